#include "kube/controller.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <future>
#include <memory>
#include <random>

#include "kube/backoff.h"
#include "kube/controller_internal.h"
#include "kube/events.h"

namespace tollgate::kube {

namespace asio = boost::asio;
namespace json = boost::json;
using detail::Clock;
using detail::httpProblem;
using detail::randomSeed;
using detail::spawn;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::string defaultIdentity(const GetEnv& env) {
  if (auto pod = env("POD_NAME"); pod && !pod->empty()) return *pod;
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) == 0 && host[0] != '\0') return host;
  return "tollgate";
}

Controller::Controller(ControllerOptions opts, ConfigSink sink)
    : opts_(std::move(opts)), sink_(std::move(sink)) {}

Controller::~Controller() { stop(); }

std::string Controller::start() {
  std::string error;
  auto tls = opts_.access.makeTlsContext(&error);
  if (!tls) return error;
  client_ = std::make_unique<ApiClient>(io_, opts_.access, std::move(tls));
  work_.emplace(io_.get_executor());
  for (const Kind& k : watchedKinds()) {
    spawn(io_, runKind(&k), "watch of " + std::string(k.plural));
  }
  spawn(io_, leaseLoop(), "leader election");
  spawn(io_, statusResyncLoop(), "status resync");
  thread_ = std::thread([this] { io_.run(); });
  return {};
}

void Controller::rebuild() {
  asio::post(io_, [this] {
    if (initial_build_done_) build("SIGHUP");
  });
}

void Controller::stop() {
  if (stopping_.exchange(true)) return;
  if (thread_.joinable()) {
    // Hand the Lease back (as client-go's ReleaseOnCancel does), so that another replica takes
    // over at its next look instead of a whole lease duration later. Bounded: a shutdown never
    // waits on an API server that does not answer.
    auto released = std::make_shared<std::promise<void>>();
    auto done = released->get_future();
    asio::co_spawn(io_, releaseLease(),
                   [released](const std::exception_ptr&) { released->set_value(); });
    done.wait_for(kLeaseReleaseWait);
  }
  work_.reset();
  io_.stop();
  if (thread_.joinable()) thread_.join();
}

asio::awaitable<void> Controller::sleep(milliseconds d) {
  asio::steady_timer t(io_);
  t.expires_after(d);
  co_await t.async_wait(asio::use_awaitable);
}

// ---------------------------------------------------------------------------------------------
// List and watch.

asio::awaitable<void> Controller::runKind(const Kind* kind) {
  Backoff backoff(milliseconds(500), seconds(30), randomSeed());
  std::string rv;
  bool need_list = true;
  bool reported_not_served = false;
  while (!stopping_) {
    if (need_list) {
      bool not_served = false;
      auto listed = co_await listKind(*kind, &not_served);
      if (not_served) {
        // The CRD is not installed (or not in this version): nothing of this kind exists for us.
        if (!reported_not_served) {
          spdlog::warn(
              "kube: the API server does not serve {} ({}); treating it as empty and "
              "checking again every minute",
              kind->kind, apiVersionOf(*kind));
          reported_not_served = true;
        }
        replaceKind(*kind, {});
        markSynced(*kind);
        co_await sleep(seconds(60));
        continue;
      }
      if (!listed) {
        const milliseconds wait = backoff.next();
        spdlog::info("kube: listing {} again in {} ms", kind->plural, wait.count());
        co_await sleep(wait);
        continue;
      }
      if (reported_not_served) {
        spdlog::info("kube: {} is served now", kind->kind);
        reported_not_served = false;
      }
      rv = std::move(*listed);
      need_list = false;
      backoff.reset();
    }
    const WatchEnd end = co_await watchKind(*kind, &rv);
    if (end == WatchEnd::kEnded) {
      backoff.reset();  // the server closed a healthy watch (timeoutSeconds): watch on at once
    } else if (end == WatchEnd::kGone) {
      spdlog::info("kube: {} resourceVersion {} is too old (410 Gone); listing again", kind->plural,
                   rv);
      need_list = true;
    } else {
      stats_.watch_restarts.fetch_add(1, std::memory_order_relaxed);
      const milliseconds wait = backoff.next();
      spdlog::info("kube: watching {} again in {} ms from resourceVersion {}", kind->plural,
                   wait.count(), rv);
      co_await sleep(wait);
    }
  }
}

asio::awaitable<std::optional<std::string>> Controller::listKind(const Kind& kind,
                                                                 bool* not_served) {
  std::map<std::string, CachedObject> fresh;
  std::string continue_token;
  std::string rv;
  for (int page = 0; page < 100000; ++page) {
    ApiRequest req;
    req.path = collectionPath(kind, opts_.watch_namespace) + "?limit=500";
    if (!continue_token.empty()) req.path += "&continue=" + queryEscape(continue_token);
    auto r = co_await client_->call(req);
    if (!r) {
      spdlog::warn("kube: list {}: {}", kind.plural, r.error().detail);
      co_return std::nullopt;
    }
    const ApiResponse& resp = r.value();
    if (resp.status == 410 && !continue_token.empty()) {
      // The continue token expired between pages: start the listing over.
      fresh.clear();
      continue_token.clear();
      continue;
    }
    if (resp.status == 404) {
      *not_served = true;
      co_return std::nullopt;
    }
    if (resp.status != 200) {
      spdlog::warn("kube: list {}: {}", kind.plural, httpProblem(resp));
      co_return std::nullopt;
    }
    auto parsed = parseList(resp.body);
    if (!parsed) {
      spdlog::warn("kube: list {}: {}", kind.plural, parsed.error().detail);
      co_return std::nullopt;
    }
    for (json::object& item : parsed.value().items) {
      auto cached = toCached(kind, std::move(item));
      if (!cached) {
        spdlog::warn("kube: list {}: {}", kind.plural, cached.error().detail);
        continue;
      }
      std::string label = cached.value().label;
      fresh.emplace(std::move(label), std::move(cached.value()));
    }
    rv = parsed.value().resource_version;
    continue_token = parsed.value().continue_token;
    if (continue_token.empty()) break;
  }
  stats_.lists.fetch_add(1, std::memory_order_relaxed);
  spdlog::debug("kube: listed {} {} at resourceVersion {}", fresh.size(), kind.plural, rv);
  replaceKind(kind, std::move(fresh));
  markSynced(kind);
  co_return rv;
}

asio::awaitable<Controller::WatchEnd> Controller::watchKind(const Kind& kind,
                                                            std::string* resource_version) {
  // Jittered so the watches of many replicas do not all end at once.
  std::uniform_int_distribution<int64_t> spread(opts_.watch_timeout.count(),
                                                2 * opts_.watch_timeout.count());
  std::mt19937_64 rng(randomSeed());
  const int64_t timeout_s = spread(rng);
  ApiRequest req;
  req.path = collectionPath(kind, opts_.watch_namespace) +
             "?watch=1&allowWatchBookmarks=true&resourceVersion=" + queryEscape(*resource_version) +
             "&timeoutSeconds=" + std::to_string(timeout_s);
  // A server that stops talking (a dead connection) is noticed shortly after the watch should
  // have ended anyway.
  const auto deadline = Clock::now() + seconds(timeout_s + 30);
  WatchEnd end = WatchEnd::kEnded;
  const auto started = Clock::now();
  uint64_t events = 0;
  const LineHandler on_line = [&](std::string_view line) {
    auto event = parseWatchEvent(line);
    if (!event) {
      spdlog::warn("kube: watch {}: {}", kind.plural, event.error().detail);
      end = WatchEnd::kFailed;
      return false;
    }
    WatchEvent& e = event.value();
    if (e.type == EventType::kError) {
      const ApiStatus st = parseStatus(e.object);
      if (st.code == 410) {
        end = WatchEnd::kGone;
      } else {
        spdlog::warn("kube: watch {}: error event {} {}: {}", kind.plural, st.code, st.reason,
                     st.message);
        end = WatchEnd::kFailed;
      }
      return false;
    }
    std::string rv = resourceVersionOf(e.object);
    stats_.events.fetch_add(1, std::memory_order_relaxed);
    ++events;
    switch (e.type) {
      case EventType::kAdded:
      case EventType::kModified:
        upsert(kind, std::move(e.object));
        break;
      case EventType::kDeleted:
        erase(kind, e.object);
        break;
      case EventType::kBookmark:
      case EventType::kError:
        break;
    }
    if (!rv.empty()) *resource_version = std::move(rv);
    return true;
  };
  auto r = co_await client_->stream(req, deadline, on_line);
  if (!r) {
    spdlog::info("kube: watch {} dropped: {}", kind.plural, r.error().detail);
    co_return WatchEnd::kFailed;
  }
  if (r.value().status == 410) co_return WatchEnd::kGone;
  if (r.value().status != 200) {
    spdlog::warn("kube: watch {}: {}", kind.plural, httpProblem(r.value()));
    co_return WatchEnd::kFailed;
  }
  if (end == WatchEnd::kEnded && events == 0 && Clock::now() - started < seconds(1)) {
    // A healthy watch lasts until timeoutSeconds; one that ends at once with nothing in it (a
    // proxy cutting streams, say) would otherwise be retried in a tight loop.
    spdlog::info("kube: watch {} ended at once without events", kind.plural);
    co_return WatchEnd::kFailed;
  }
  co_return end;
}

// ---------------------------------------------------------------------------------------------
// The cache.

void Controller::replaceKind(const Kind& kind, std::map<std::string, CachedObject> fresh) {
  auto& current = cache_[std::string(kind.kind)];
  bool changed = current.size() != fresh.size();
  for (auto it = fresh.begin(); !changed && it != fresh.end(); ++it) {
    auto old = current.find(it->first);
    changed = old == current.end() || old->second.content != it->second.content;
  }
  current = std::move(fresh);
  if (changed) markDirty();
}

void Controller::upsert(const Kind& kind, json::object raw) {
  auto cached = toCached(kind, std::move(raw));
  if (!cached) {
    spdlog::warn("kube: watch {}: {}", kind.plural, cached.error().detail);
    return;
  }
  auto& objects = cache_[std::string(kind.kind)];
  auto it = objects.find(cached.value().label);
  // A status write (ours included) changes only status and resourceVersion: nothing to build.
  const bool changed = it == objects.end() || it->second.content != cached.value().content;
  std::string label = cached.value().label;
  objects.insert_or_assign(std::move(label), std::move(cached.value()));
  if (changed) markDirty();
}

void Controller::erase(const Kind& kind, const json::object& raw) {
  const json::value* meta = raw.if_contains("metadata");
  if (meta == nullptr || !meta->is_object()) return;
  const json::object& m = meta->get_object();
  const json::value* name = m.if_contains("name");
  const json::value* ns = m.if_contains("namespace");
  if (name == nullptr || !name->is_string()) return;
  std::string_view ns_name = "default";
  if (ns != nullptr && ns->is_string()) ns_name = ns->get_string();
  const std::string label = objectLabel(kind.kind, ns_name, name->get_string());
  if (cache_[std::string(kind.kind)].erase(label) != 0) markDirty();
}

CachedObject* Controller::find(const std::string& label) {
  const std::string kind = label.substr(0, label.find(' '));
  auto k = cache_.find(kind);
  if (k == cache_.end()) return nullptr;
  auto it = k->second.find(label);
  return it == k->second.end() ? nullptr : &it->second;
}

void Controller::markSynced(const Kind& kind) {
  synced_.insert(std::string(kind.kind));
  if (initial_build_done_ || synced_.size() < watchedKinds().size()) return;
  initial_build_done_ = true;
  stats_.synced = 1;
  build("initial listing");
}

void Controller::markDirty() {
  if (!initial_build_done_) return;  // the first build follows the complete first listing
  const auto now = Clock::now();
  if (!dirty_) {
    dirty_ = true;
    first_dirty_ = now;
  }
  // Each change pushes the build back by `debounce`, but never more than `debounce_max` after the
  // first change: a burst of kubectl apply becomes one build.
  debounce_timer_.expires_at(std::min(now + opts_.debounce, first_dirty_ + opts_.debounce_max));
  debounce_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || !dirty_) return;
    dirty_ = false;
    build("cluster change");
  });
}

// ---------------------------------------------------------------------------------------------
// Building and verdicts.

void Controller::build(const std::string& why) {
  std::vector<const CachedObject*> all;
  for (const Kind& k : watchedKinds()) {
    for (const auto& [label, o] : cache_[std::string(k.kind)]) all.push_back(&o);
  }
  std::vector<std::string> skipped;
  const std::vector<const CachedObject*> selected = selectObjects(all, opts_.gateway, &skipped);
  // Said once per change: a Gateway of another class is someone else's, not an error.
  if (skipped != skipped_gateways_) {
    for (const std::string& line : skipped) spdlog::info("kube: Gateway {}", line);
    skipped_gateways_ = std::move(skipped);
  }
  ReconcileResult result = reconciler_.run(selected, sink_.build);
  if (!result.ok) {
    sink_.reject(result, why);
    return;
  }
  // One log line per object whose verdict changed: rejected objects as errors (with why), the
  // rest quietly.
  uint64_t rejected = 0;
  std::vector<std::pair<std::string, std::string>> new_rejections;  // label, why
  for (const auto& [label, outcome] : result.objects) {
    if (!outcome.verdict.accepted) ++rejected;
    auto old = outcomes_.find(label);
    const bool same = old != outcomes_.end() &&
                      old->second.verdict.accepted == outcome.verdict.accepted &&
                      old->second.verdict.message == outcome.verdict.message;
    if (same) continue;
    if (!outcome.verdict.accepted) {
      spdlog::error("kube: {} not accepted: {}", label, outcome.verdict.message);
      new_rejections.emplace_back(label, outcome.verdict.message);
    } else if (old != outcomes_.end() && !old->second.verdict.accepted) {
      spdlog::info("kube: {} accepted again", label);
    } else if (outcome.verdict.message.find("warning") != std::string::npos) {
      spdlog::warn("kube: {} {}", label, outcome.verdict.message);
    }
  }
  stats_.objects_rejected = rejected;
  outcomes_ = result.objects;
  subjects_.clear();
  for (const std::string& label : statusSubjects(selected, opts_.gateway)) {
    auto it = result.objects.find(label);
    if (it != result.objects.end()) subjects_[label] = it->second.verdict;
  }
  if (result.fingerprint != published_fingerprint_) {
    published_fingerprint_ = result.fingerprint;
    sink_.publish(result, why);
  }
  kickStatusWriter();
  // Every replica judges; only the Lease holder tells the cluster, once per rejection.
  if (leader_ && !new_rejections.empty()) {
    spawn(io_, writeEvents(std::move(new_rejections)), "event writer");
  }
}

asio::awaitable<void> Controller::writeEvents(
    std::vector<std::pair<std::string, std::string>> rejections) {
  for (const auto& [label, why] : rejections) {
    const CachedObject* o = find(label);
    if (o == nullptr || stopping_) continue;
    const Kind* kind = findKind(o->kind);
    if (kind == nullptr) continue;
    EventWrite e;
    e.api_version = apiVersionOf(*kind);
    e.kind = o->kind;
    e.ns = o->ns;
    e.name = o->name;
    e.resource_version = o->resource_version;
    e.note = why;
    e.reporting_instance = opts_.identity;
    e.time = std::chrono::system_clock::now();
    ApiRequest post;
    post.method = "POST";
    post.path = eventsPath(e);
    post.content_type = "application/json";
    post.body = eventBody(e);
    auto r = co_await client_->call(post);
    if (r && (r.value().status == 201 || r.value().status == 200)) {
      ++stats_.events_written;
      continue;
    }
    ++stats_.event_failures;
    // Events are a courtesy (the status condition says the same): a cluster that refuses them
    // (no RBAC for events.k8s.io) is told once a minute, not per object.
    const auto now = Clock::now();
    if (now - last_event_problem_log_ >= std::chrono::minutes(1)) {
      last_event_problem_log_ = now;
      spdlog::warn("kube: cannot write an Event for {}: {}", label,
                   r ? httpProblem(r.value()) : r.error().detail);
    }
  }
}

void Controller::kickStatusWriter() {
  if (!leader_) return;
  if (writer_running_) {
    writer_again_ = true;
    return;
  }
  spawn(io_, writeStatuses(), "status writer");
}

asio::awaitable<void> Controller::writeStatuses() {
  writer_running_ = true;
  do {
    writer_again_ = false;
    const std::map<std::string, Verdict> work = subjects_;
    const std::string now = formatTime(std::chrono::system_clock::now(), false);
    for (const auto& [label, verdict] : work) {
      if (!leader_ || stopping_) break;
      const CachedObject* o = find(label);
      // Gone, or changed since the build judged it: the next build has the newer verdict.
      if (o == nullptr || o->generation != verdict.generation) continue;
      auto conditions = conditionsFor(verdict, o->conditions, now);
      if (!conditions) continue;
      const Kind* kind = findKind(o->kind);
      if (kind == nullptr) continue;
      ApiRequest req;
      req.method = "PATCH";
      req.path = objectPath(*kind, o->ns, o->name) + "/status";
      req.body = statusPatch(*conditions);
      req.content_type = "application/merge-patch+json";
      auto r = co_await client_->call(req);
      if (!r) {
        stats_.status_failures.fetch_add(1, std::memory_order_relaxed);
        spdlog::warn("kube: status of {}: {}", label, r.error().detail);
        continue;
      }
      if (r.value().status == 404) continue;  // deleted meanwhile
      if (r.value().status != 200 && r.value().status != 201) {
        stats_.status_failures.fetch_add(1, std::memory_order_relaxed);
        spdlog::warn("kube: status of {}: {}", label, httpProblem(r.value()));
        continue;
      }
      stats_.status_writes.fetch_add(1, std::memory_order_relaxed);
      // What the server now holds, so the next pass does not write it again before the watch
      // event arrives. The cache may have changed while we waited: look the object up again.
      if (CachedObject* now_cached = find(label)) {
        boost::system::error_code ec;
        json::value v = json::parse(r.value().body, ec);
        if (!ec && v.is_object()) {
          const json::value* status = v.get_object().if_contains("status");
          if (status != nullptr && status->is_object()) {
            if (const json::value* c = status->get_object().if_contains("conditions")) {
              now_cached->conditions = *c;
            }
          }
        }
      }
    }
  } while (writer_again_ && leader_ && !stopping_);
  writer_running_ = false;
}

asio::awaitable<void> Controller::statusResyncLoop() {
  while (!stopping_) {
    co_await sleep(opts_.status_resync);
    if (initial_build_done_) kickStatusWriter();
  }
}

}  // namespace tollgate::kube
