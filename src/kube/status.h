// status.conditions that tollgate writes on the objects it serves: one condition of type
// Accepted, True or False, with Envoy AI Gateway's reasons (ReconciliationSucceeded /
// ReconciliationFailed) and a message saying why. lastTransitionTime moves only when the status
// flips; nothing is written when the server already shows the same verdict.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tollgate::kube {

inline constexpr std::string_view kReasonAccepted = "ReconciliationSucceeded";
inline constexpr std::string_view kReasonRejected = "ReconciliationFailed";
// Conditions are for people reading `kubectl get -o yaml`; longer lists of problems are cut.
inline constexpr size_t kMaxConditionMessage = 2048;

// What tollgate concluded about one object.
struct Verdict {
  bool accepted = true;
  std::string message;
  int64_t generation = 0;  // the metadata.generation it judged (observedGeneration)
  bool operator==(const Verdict&) const = default;
};

// The conditions to write so the server shows `verdict`, or nullopt when `current` (the
// object's status.conditions as the server has them) already does. `now` is the RFC 3339 time of
// a status change.
std::optional<boost::json::array> conditionsFor(const Verdict& verdict,
                                                const boost::json::value& current,
                                                std::string_view now);

// {"status":{"conditions":[...]}}: a JSON merge patch (RFC 7386) for the status subresource.
std::string statusPatch(const boost::json::array& conditions);

// RFC 3339 in UTC: "2025-01-02T03:04:05Z", or with microseconds (a metav1.MicroTime) when
// `micro`.
std::string formatTime(std::chrono::system_clock::time_point t, bool micro);
// Parses both forms (any number of fraction digits); nullopt when malformed.
std::optional<std::chrono::system_clock::time_point> parseTime(std::string_view text);

}  // namespace tollgate::kube
