// Leader election for the controller (see lease.h for the Lease rules): acquire or renew on a
// timer, step down when renewing fails for too long, release on shutdown. Only the holder writes
// status and Events.
#include <spdlog/spdlog.h>

#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>

#include "kube/controller.h"
#include "kube/controller_internal.h"
#include "kube/lease.h"

namespace tollgate::kube {

namespace asio = boost::asio;
namespace json = boost::json;
using detail::Clock;
using detail::httpProblem;
using std::chrono::milliseconds;

void Controller::setLeader(bool leader, const std::string& why) {
  if (leader == leader_) return;
  leader_ = leader;
  stats_.leader = leader ? 1 : 0;
  if (leader) {
    spdlog::info("kube: {} holds Lease {}/{} ({}): this replica writes status", opts_.identity,
                 opts_.lease_namespace, opts_.lease_name, why);
    if (initial_build_done_) kickStatusWriter();
  } else {
    spdlog::warn("kube: {} no longer holds Lease {}/{} ({}): status is left to the holder",
                 opts_.identity, opts_.lease_namespace, opts_.lease_name, why);
  }
}

asio::awaitable<void> Controller::leaseLoop() {
  const milliseconds duration = opts_.lease_duration;
  const milliseconds renew_every = std::max(milliseconds(500), duration / 3);
  const milliseconds retry_every = std::max(milliseconds(500), duration / 5);
  // A leader that cannot renew for this long steps down before anyone may take over.
  const milliseconds renew_deadline = duration * 2 / 3;
  Clock::time_point last_renewed{};
  while (!stopping_) {
    const bool held = co_await acquireOrRenew();
    const auto now = Clock::now();
    if (held) {
      last_renewed = now;
      setLeader(true, "renewed");
    } else if (leader_ && (now - last_renewed > renew_deadline || last_holder_ != opts_.identity)) {
      setLeader(false, last_holder_ != opts_.identity && !last_holder_.empty()
                           ? "now held by " + last_holder_
                           : "could not renew in time");
    }
    const milliseconds next = leader_ ? renew_every : retry_every;
    co_await sleep(next);
  }
}

asio::awaitable<void> Controller::releaseLease() {
  if (!leader_ || !client_) co_return;
  const std::string path = "/apis/coordination.k8s.io/v1/namespaces/" + opts_.lease_namespace +
                           "/leases/" + opts_.lease_name;
  // Twice at most: a renewal that was in flight when the shutdown began may have moved the
  // Lease's resourceVersion on (409 Conflict), and the Lease is read again.
  for (int attempt = 0; attempt < 2; ++attempt) {
    ApiRequest get;
    get.path = path;
    auto r = co_await client_->call(get);
    if (!r || r.value().status != 200) break;
    boost::system::error_code ec;
    json::value v = json::parse(r.value().body, ec);
    if (ec || !v.is_object()) break;
    const LeaseRecord lease = parseLease(v.get_object());
    if (lease.holder != opts_.identity) co_return;  // already someone else's
    const auto now = std::chrono::system_clock::now();
    LeaseWrite w;
    w.ns = opts_.lease_namespace;
    w.name = opts_.lease_name;
    w.holder.clear();  // released: the next replica to look takes it over at once
    w.duration_s = 1;
    w.acquire_time = now;
    w.renew_time = now;
    w.transitions = lease.transitions;
    w.resource_version = lease.resource_version;
    ApiRequest put;
    put.method = "PUT";
    put.path = path;
    put.content_type = "application/json";
    put.body = leaseBody(w);
    auto wr = co_await client_->call(put);
    if (wr && wr.value().status == 200) {
      leader_ = false;
      stats_.leader = 0;
      spdlog::info("kube: {} released Lease {}/{} on shutdown", opts_.identity,
                   opts_.lease_namespace, opts_.lease_name);
      co_return;
    }
    if (!wr || wr.value().status != 409) break;
  }
  spdlog::warn(
      "kube: could not release Lease {}/{} on shutdown; another replica takes over "
      "when it expires",
      opts_.lease_namespace, opts_.lease_name);
}

asio::awaitable<bool> Controller::acquireOrRenew() {
  const std::string collection =
      "/apis/coordination.k8s.io/v1/namespaces/" + opts_.lease_namespace + "/leases";
  const auto problem = [this](const std::string& what) {
    const auto now = Clock::now();
    if (now - last_lease_problem_log_ < std::chrono::minutes(1)) return;
    last_lease_problem_log_ = now;
    spdlog::warn("kube: Lease {}/{}: {}", opts_.lease_namespace, opts_.lease_name, what);
  };
  ApiRequest get;
  get.path = collection + "/" + opts_.lease_name;
  auto r = co_await client_->call(get);
  if (!r) {
    problem(r.error().detail);
    co_return false;
  }
  const auto now = std::chrono::system_clock::now();
  LeaseWrite w;
  w.ns = opts_.lease_namespace;
  w.name = opts_.lease_name;
  w.holder = opts_.identity;
  w.duration_s = opts_.lease_duration.count();
  w.acquire_time = now;
  w.renew_time = now;
  ApiRequest write;
  write.content_type = "application/json";
  if (r.value().status == 404) {
    write.method = "POST";
    write.path = collection;
  } else if (r.value().status == 200) {
    boost::system::error_code ec;
    json::value v = json::parse(r.value().body, ec);
    if (ec || !v.is_object()) {
      problem("the server answered with something that is not a Lease");
      co_return false;
    }
    const LeaseRecord lease = parseLease(v.get_object());
    const LeaseStep step = decideLease(lease, opts_.identity, now);
    if (lease.holder != last_holder_ && !lease.holder.empty() && lease.holder != opts_.identity) {
      spdlog::info("kube: Lease {}/{} is held by {}", opts_.lease_namespace, opts_.lease_name,
                   lease.holder);
    }
    last_holder_ = lease.holder;
    if (step == LeaseStep::kFollow) co_return false;
    write.method = "PUT";
    write.path = get.path;
    w.resource_version = lease.resource_version;
    w.transitions = lease.transitions;
    if (step == LeaseStep::kRenew) {
      if (lease.acquire_time) w.acquire_time = *lease.acquire_time;
    } else {
      w.transitions = lease.transitions + 1;
      if (!lease.holder.empty()) {
        spdlog::info("kube: Lease {}/{} of {} expired; taking it over", opts_.lease_namespace,
                     opts_.lease_name, lease.holder);
      }
    }
  } else {
    problem(httpProblem(r.value()));
    co_return false;
  }
  write.body = leaseBody(w);
  auto wr = co_await client_->call(write);
  if (!wr) {
    problem(wr.error().detail);
    co_return false;
  }
  if (wr.value().status == 409) co_return false;  // another replica wrote first
  if (wr.value().status != 200 && wr.value().status != 201) {
    problem(httpProblem(wr.value()));
    co_return false;
  }
  last_holder_ = opts_.identity;
  co_return true;
}

}  // namespace tollgate::kube
