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

#include "common/header_match.h"
#include "config/model.h"

namespace tollgate::router {

// The lookup interface lives in common/ (rate limiting shares it); the old name stays for the
// gateway's users of it.
using HeaderSource = tollgate::HeaderSource;

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
