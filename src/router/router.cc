#include "router/router.h"

#include <algorithm>

namespace tollgate::router {

RouteTable::RouteTable(std::shared_ptr<const config::Config> config) : config_(std::move(config)) {
  const auto& cfg = *config_;
  for (const auto& route : cfg.routes) {
    for (size_t ri = 0; ri < route.rules.size(); ++ri) {
      const auto& rule = route.rules[ri];
      CompiledRule cr;
      cr.route = route.origin.ns + "/" + route.origin.name;
      cr.rule_index = ri;
      if (rule.timeouts.request_ms) {
        // Gateway API: a timeout of 0 disables it. A day stands in for "none" so deadlines stay
        // finite (a stuck upstream still frees its connection eventually).
        cr.timeout = *rule.timeouts.request_ms == 0
                         ? std::chrono::milliseconds(24 * 3600 * 1000)
                         : std::chrono::milliseconds(*rule.timeouts.request_ms);
      }
      for (const auto& m : rule.matches) {
        std::vector<HeaderMatcher> all;
        for (const auto& h : m.headers) {
          // A route match never inverts (invert is for rate limit client selectors only).
          HeaderMatcher hm(h.name, h.type, h.value);
          if (h.name == "x-ai-eg-model" && h.type == config::HeaderMatchType::kExact &&
              std::find(models_.begin(), models_.end(), h.value) == models_.end()) {
            models_.push_back(h.value);
          }
          all.push_back(std::move(hm));
        }
        cr.matches.push_back(std::move(all));
      }
      for (const auto& ref : rule.backend_refs) {
        Candidate c;
        c.ref_name = ref.name;
        c.weight = ref.weight;
        c.priority = ref.priority;
        c.model_override = ref.model_name_override;
        c.ai_backend =
            cfg.findAIServiceBackend(ref.ns.empty() ? route.origin.ns : ref.ns, ref.name);
        if (c.ai_backend) {
          c.backend =
              cfg.findBackend(c.ai_backend->backend_ref_ns.empty() ? c.ai_backend->origin.ns
                                                                   : c.ai_backend->backend_ref_ns,
                              c.ai_backend->backend_ref);
          c.security = cfg.securityPolicyFor(*c.ai_backend);
        }
        cr.candidates.push_back(std::move(c));
      }
      std::stable_sort(
          cr.candidates.begin(), cr.candidates.end(),
          [](const Candidate& a, const Candidate& b) { return a.priority < b.priority; });
      rules_.push_back(std::move(cr));
    }
  }
}

RouteTable::~RouteTable() = default;

const CompiledRule* RouteTable::match(const HeaderSource& headers) const {
  for (const auto& rule : rules_) {
    if (rule.matches.empty()) return &rule;
    for (const auto& conj : rule.matches) {
      bool all = true;
      for (const auto& m : conj) {
        if (!m.matches(headers)) {
          all = false;
          break;
        }
      }
      if (all) return &rule;
    }
  }
  return nullptr;
}

void RouteTable::attemptOrder(const CompiledRule& rule, uint64_t random,
                              std::vector<const Candidate*>& out) {
  out.clear();
  auto next = [&random]() {
    // splitmix64: cheap, good enough to spread weights; seeded per request.
    random += 0x9e3779b97f4a7c15ull;
    uint64_t z = random;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  const auto& c = rule.candidates;
  size_t i = 0;
  while (i < c.size()) {
    size_t j = i;
    while (j < c.size() && c[j].priority == c[i].priority) ++j;
    // Weighted permutation of c[i, j).
    std::vector<const Candidate*> group;
    for (size_t k = i; k < j; ++k) group.push_back(&c[k]);
    while (!group.empty()) {
      uint64_t total = 0;
      for (auto* g : group) total += g->weight;
      size_t pick = 0;
      if (total > 0) {
        uint64_t r = next() % total;
        for (size_t k = 0; k < group.size(); ++k) {
          if (r < group[k]->weight) {
            pick = k;
            break;
          }
          r -= group[k]->weight;
        }
      }
      out.push_back(group[pick]);
      group.erase(group.begin() + static_cast<long>(pick));
    }
    i = j;
  }
}

}  // namespace tollgate::router
