// Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: the holder renews
// spec.renewTime every few seconds; another replica takes over once renewTime +
// leaseDurationSeconds has passed. Only the holder writes status. Updates carry the
// resourceVersion they read, so of two replicas racing for one lease the API server lets one win.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tollgate::kube {

struct LeaseRecord {
  std::string holder;  // spec.holderIdentity; empty = released
  int64_t duration_s = 0;
  std::optional<std::chrono::system_clock::time_point> acquire_time;
  std::optional<std::chrono::system_clock::time_point> renew_time;
  int64_t transitions = 0;
  std::string resource_version;
};
LeaseRecord parseLease(const boost::json::object& lease);

enum class LeaseStep {
  kRenew,     // we hold it: renew
  kTakeOver,  // released or expired: take it (one more transition)
  kFollow,    // someone else holds it and renews in time
};
LeaseStep decideLease(const LeaseRecord& lease, std::string_view me,
                      std::chrono::system_clock::time_point now);

struct LeaseWrite {
  std::string ns;
  std::string name;
  std::string holder;
  int64_t duration_s = 15;
  std::chrono::system_clock::time_point acquire_time;
  std::chrono::system_clock::time_point renew_time;
  int64_t transitions = 0;
  std::string resource_version;  // empty when creating
};
// The Lease object to POST (create) or PUT (update).
std::string leaseBody(const LeaseWrite& w);

}  // namespace tollgate::kube
