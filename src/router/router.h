// Compiled routing table: AIGatewayRoute rules → ordered backend candidates. Built once per
// configuration snapshot and then read by all threads without locks (immutable; RE2 matching is
// thread-safe).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/model.h"

namespace re2 {
class RE2;
}

namespace tollgate::router {

// Read access to the request headers (names lower-case) for matching.
class HeaderSource {
 public:
  virtual ~HeaderSource() = default;
  virtual std::optional<std::string_view> get(std::string_view lower_name) const = 0;
};

struct Candidate {
  std::string ref_name;  // the AIServiceBackend name as the route wrote it
  const config::AIServiceBackend* ai_backend = nullptr;  // nullptr: not defined
  const config::Backend* backend = nullptr;              // nullptr: not defined
  const config::BackendSecurityPolicy* security = nullptr;
  std::string model_override;
  uint32_t weight = 1;
  uint32_t priority = 0;
  bool usable() const { return ai_backend && backend && !backend->endpoints.empty(); }
};

struct HeaderMatcher {
  std::string name;
  config::HeaderMatchType type = config::HeaderMatchType::kExact;
  std::string value;
  std::shared_ptr<re2::RE2> regex;
  bool matches(const HeaderSource& h) const;
};

struct CompiledRule {
  std::string route;  // "ns/name"
  size_t rule_index = 0;
  std::vector<std::vector<HeaderMatcher>> matches;  // OR of ANDs; empty matches everything
  std::vector<Candidate> candidates;                // sorted by priority
  std::chrono::milliseconds timeout{60000};
};

class RouteTable {
 public:
  // The table keeps `config` alive: candidates point into it.
  explicit RouteTable(std::shared_ptr<const config::Config> config);
  ~RouteTable();

  // The first rule (routes in load order, rules in order) whose matches accept the headers.
  const CompiledRule* match(const HeaderSource& headers) const;

  // The order in which to try a rule's candidates: lower priority values first; within one
  // priority a weighted random permutation (weight 0 entries only when nothing else is left).
  // `random` seeds the draw (one value per request).
  static void attemptOrder(const CompiledRule& rule, uint64_t random,
                           std::vector<const Candidate*>& out);

  // Model names routes match exactly on x-ai-eg-model, in order, without duplicates.
  const std::vector<std::string>& models() const { return models_; }
  const std::vector<CompiledRule>& rules() const { return rules_; }
  const config::Config& config() const { return *config_; }

 private:
  std::shared_ptr<const config::Config> config_;
  std::vector<CompiledRule> rules_;
  std::vector<std::string> models_;
};

}  // namespace tollgate::router
