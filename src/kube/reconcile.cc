#include "kube/reconcile.h"

#include <chrono>
#include <cstdio>
#include <set>

namespace tollgate::kube {

namespace {

enum class Choice { kCurrent, kPrevious, kLeftOut };

std::string fnv1a(const std::vector<std::pair<std::string, std::string>>& docs) {
  uint64_t h = 1469598103934665603ull;
  for (const auto& [label, text] : docs) {
    for (std::string_view part : {std::string_view(label), std::string_view(text)}) {
      for (unsigned char c : part) {
        h ^= c;
        h *= 1099511628211ull;
      }
      h ^= 0xff;  // separator: ("ab","c") and ("a","bc") differ
      h *= 1099511628211ull;
    }
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace

std::string describe(const std::vector<config::Diagnostic>& diagnostics) {
  std::string out;
  for (const config::Diagnostic& d : diagnostics) {
    if (!out.empty()) out += "; ";
    if (!d.field.empty()) out += d.field + ": ";
    out += d.message;
  }
  return out;
}

ReconcileResult Reconciler::run(const std::vector<const CachedObject*>& objects,
                                const BuildFn& build) {
  ReconcileResult result;
  const auto started = std::chrono::steady_clock::now();
  const auto finish = [&]() -> ReconcileResult& {
    result.elapsed_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count();
    return result;
  };
  std::map<std::string, Choice> choice;
  std::map<std::string, std::vector<config::Diagnostic>> own_errors;  // of the current version
  std::map<std::string, std::vector<config::Diagnostic>> warnings;    // of the final build
  for (const CachedObject* o : objects) choice[o->label] = Choice::kCurrent;

  const size_t max_builds = 2 * objects.size() + 1;
  for (;;) {
    std::vector<std::pair<std::string, std::string>> docs;
    for (const CachedObject* o : objects) {
      switch (choice[o->label]) {
        case Choice::kCurrent:
          docs.emplace_back(o->label, o->content);
          break;
        case Choice::kPrevious:
          docs.emplace_back(o->label, accepted_.at(o->label).content);
          break;
        case Choice::kLeftOut:
          break;
      }
    }
    const std::vector<config::Diagnostic> diagnostics = build(docs);
    ++result.builds;
    std::map<std::string, std::vector<config::Diagnostic>> errors;
    warnings.clear();
    for (const config::Diagnostic& d : diagnostics) {
      const bool known = choice.count(d.object) != 0;
      if (d.severity == config::Severity::kError) {
        if (known) {
          errors[d.object].push_back(d);
        } else {
          result.unattributed.push_back(d);
        }
      } else if (d.severity == config::Severity::kWarning && known) {
        warnings[d.object].push_back(d);
      }
    }
    if (!result.unattributed.empty()) return finish();
    if (errors.empty()) {
      result.fingerprint = fnv1a(docs);
      break;
    }
    if (static_cast<size_t>(result.builds) >= max_builds) {
      // Cannot happen (each round moves an object down), but a bound is cheaper than a proof.
      config::Diagnostic d;
      d.message =
          "the configuration did not settle after " + std::to_string(result.builds) + " builds";
      result.unattributed.push_back(std::move(d));
      return finish();
    }
    for (auto& [label, list] : errors) {
      Choice& c = choice[label];
      if (c == Choice::kCurrent) {
        own_errors[label] = std::move(list);
        auto it = accepted_.find(label);
        const CachedObject* current = nullptr;
        for (const CachedObject* o : objects) {
          if (o->label == label) current = o;
        }
        c = it != accepted_.end() && current != nullptr && it->second.content != current->content
                ? Choice::kPrevious
                : Choice::kLeftOut;
      } else {
        c = Choice::kLeftOut;
      }
    }
  }

  result.ok = true;
  std::map<std::string, Accepted> next;
  for (const CachedObject* o : objects) {
    ObjectOutcome& out = result.objects[o->label];
    out.kind = o->kind;
    out.verdict.generation = o->generation;
    const Choice c = choice[o->label];
    out.served = c != Choice::kLeftOut;
    out.previous = c == Choice::kPrevious;
    if (c == Choice::kCurrent) {
      next[o->label] = Accepted{o->generation, o->content};
      const auto& w = warnings[o->label];
      out.verdict.accepted = true;
      out.verdict.message = w.empty()
                                ? "accepted by tollgate"
                                : "accepted by tollgate, with " + std::to_string(w.size()) +
                                      " warning" + (w.size() == 1 ? "" : "s") + ": " + describe(w);
      continue;
    }
    out.verdict.accepted = false;
    out.verdict.message = describe(own_errors[o->label]);
    if (c == Choice::kPrevious) {
      const Accepted& prev = accepted_.at(o->label);
      next[o->label] = prev;
      out.verdict.message += " (tollgate keeps serving generation " +
                             std::to_string(prev.generation) + ", the last one it accepted)";
    } else {
      out.verdict.message += " (not served)";
    }
  }
  accepted_ = std::move(next);

  // A backend whose security policy was left out would be called without credentials: say so on
  // the backend, where `kubectl get aiservicebackend` users look.
  for (const CachedObject* policy : objects) {
    if (policy->kind != "BackendSecurityPolicy" || result.objects[policy->label].served) continue;
    std::set<std::string> targets;
    for (const std::string& t : securityPolicyTargets(*policy)) targets.insert(t);
    for (const CachedObject* o : objects) {
      if (o->kind == "AIServiceBackend" && backendPolicyRef(*o) == policy->label) {
        targets.insert(o->label);
      }
    }
    for (const std::string& target : targets) {
      auto it = result.objects.find(target);
      if (it == result.objects.end() || !it->second.verdict.accepted) continue;
      it->second.verdict.accepted = false;
      it->second.verdict.message = policy->label + " is not accepted (" +
                                   result.objects[policy->label].verdict.message +
                                   "); requests to this backend are sent without its credentials";
    }
  }
  return finish();
}

}  // namespace tollgate::kube
