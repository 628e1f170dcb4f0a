#include "kube/lease.h"

#include <boost/json/serialize.hpp>

#include "kube/status.h"

namespace tollgate::kube {

namespace json = boost::json;

LeaseRecord parseLease(const json::object& lease) {
  LeaseRecord r;
  if (const json::value* meta = lease.if_contains("metadata"); meta && meta->is_object()) {
    if (const json::value* rv = meta->get_object().if_contains("resourceVersion");
        rv && rv->is_string()) {
      r.resource_version = std::string(rv->get_string());
    }
  }
  const json::value* spec_value = lease.if_contains("spec");
  if (spec_value == nullptr || !spec_value->is_object()) return r;
  const json::object& spec = spec_value->get_object();
  const auto text = [&](std::string_view key) -> std::string {
    const json::value* v = spec.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  const auto number = [&](std::string_view key) -> int64_t {
    const json::value* v = spec.if_contains(key);
    if (v == nullptr) return 0;
    if (v->is_int64()) return v->get_int64();
    if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
    return 0;
  };
  r.holder = text("holderIdentity");
  r.duration_s = number("leaseDurationSeconds");
  r.transitions = number("leaseTransitions");
  r.acquire_time = parseTime(text("acquireTime"));
  r.renew_time = parseTime(text("renewTime"));
  return r;
}

LeaseStep decideLease(const LeaseRecord& lease, std::string_view me,
                      std::chrono::system_clock::time_point now) {
  if (!lease.holder.empty() && lease.holder == me) return LeaseStep::kRenew;
  if (lease.holder.empty() || !lease.renew_time) return LeaseStep::kTakeOver;
  if (*lease.renew_time + std::chrono::seconds(lease.duration_s) < now) {
    return LeaseStep::kTakeOver;
  }
  return LeaseStep::kFollow;
}

std::string leaseBody(const LeaseWrite& w) {
  json::object meta;
  meta["name"] = w.name;
  meta["namespace"] = w.ns;
  if (!w.resource_version.empty()) meta["resourceVersion"] = w.resource_version;
  json::object spec;
  spec["holderIdentity"] = w.holder;
  spec["leaseDurationSeconds"] = w.duration_s;
  spec["acquireTime"] = formatTime(w.acquire_time, true);
  spec["renewTime"] = formatTime(w.renew_time, true);
  spec["leaseTransitions"] = w.transitions;
  json::object lease;
  lease["apiVersion"] = "coordination.k8s.io/v1";
  lease["kind"] = "Lease";
  lease["metadata"] = std::move(meta);
  lease["spec"] = std::move(spec);
  return json::serialize(lease);
}

}  // namespace tollgate::kube
