#include "ratelimit/redis_client.h"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <utility>

#include "ratelimit/redis_client_impl.h"

namespace tollgate::ratelimit {

namespace asio = boost::asio;

namespace {

// Commands the pipeline may hold at once (timed-out ones included): beyond this Redis is not
// keeping up, and queueing more would only grow memory and every later call's latency.
constexpr size_t kMaxOutstanding = 65536;

static_assert(static_cast<int>(RedisReply::Type::kString) == REDIS_REPLY_STRING &&
              static_cast<int>(RedisReply::Type::kArray) == REDIS_REPLY_ARRAY &&
              static_cast<int>(RedisReply::Type::kInteger) == REDIS_REPLY_INTEGER &&
              static_cast<int>(RedisReply::Type::kNil) == REDIS_REPLY_NIL &&
              static_cast<int>(RedisReply::Type::kStatus) == REDIS_REPLY_STATUS &&
              static_cast<int>(RedisReply::Type::kError) == REDIS_REPLY_ERROR);

RedisReply copyReply(const redisReply& r) {
  RedisReply out;
  out.type = static_cast<RedisReply::Type>(r.type);
  switch (r.type) {
    case REDIS_REPLY_INTEGER:
      out.integer = r.integer;
      break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_ARRAY:
      out.elements.reserve(r.elements);
      for (size_t i = 0; i < r.elements; ++i) out.elements.push_back(copyReply(*r.element[i]));
      break;
    default:
      break;
  }
  return out;
}

}  // namespace

RedisStats& redisStats() {
  static RedisStats stats;
  return stats;
}

RedisClient::RedisClient(asio::io_context& io, RedisOptions opts, std::string role,
                         std::vector<std::string> scripts)
    : impl_(std::make_shared<Impl>(io, std::move(opts), std::move(role), std::move(scripts))) {
  impl_->startAttempt();
}

RedisClient::~RedisClient() { impl_->shutdown("the client was destroyed"); }

void RedisClient::close(const std::string& why) { impl_->shutdown(why); }

bool RedisClient::connected() const { return impl_->state_ == Impl::State::kReady; }

const std::string& RedisClient::endpoint() const { return impl_->where_; }

Error RedisClient::unexpectedReply(const std::string& what) const {
  redisStats().errors.fetch_add(1, std::memory_order_relaxed);
  return Error::upstream(ErrorCode::kUpstreamBadResponse, impl_->role_ + " error",
                         "redis " + impl_->where_ + ": unexpected reply: " + what, false);
}

Error RedisClient::errorReply(const std::string& message) const {
  redisStats().errors.fetch_add(1, std::memory_order_relaxed);
  return Error::upstream(ErrorCode::kUpstreamBadResponse, impl_->role_ + " error",
                         "redis " + impl_->where_ + ": " + message, false);
}

asio::awaitable<Result<RedisReply>> RedisClient::command(std::vector<std::string> args,
                                                         RedisCallFlags flags) {
  std::shared_ptr<Impl> impl = impl_;  // the client may be destroyed while this call waits
  auto call = std::make_shared<Call>();
  call->args = std::move(args);
  call->asking = flags.asking;
  call->raw_errors = flags.error_replies;
  co_return co_await impl->execute(call);
}

asio::awaitable<Result<RedisReply>> RedisClient::evalScript(size_t script,
                                                            std::vector<std::string> args,
                                                            RedisCallFlags flags) {
  std::shared_ptr<Impl> impl = impl_;
  if (script >= impl->scripts_.size()) {
    co_return Error::internal("redis: no script " + std::to_string(script));
  }
  auto call = std::make_shared<Call>();
  call->script = static_cast<int>(script);
  call->args = std::move(args);
  call->asking = flags.asking;
  call->raw_errors = flags.error_replies;
  co_return co_await impl->execute(call);
}

Error RedisClient::Impl::unavailable(const std::string& detail) const {
  return Error::upstream(ErrorCode::kUpstreamConnect, role_ + " unavailable",
                         "redis " + where_ + ": " + detail, true);
}

asio::awaitable<Result<RedisReply>> RedisClient::Impl::execute(const std::shared_ptr<Call>& call) {
  return asio::async_initiate<const asio::use_awaitable_t<>&, Call::Completion>(
      [](auto handler, std::shared_ptr<Impl> self, std::shared_ptr<Call> c) {
        c->handler.emplace(std::move(handler));
        self->submit(c);
      },
      asio::use_awaitable, shared_from_this(), call);
}

void RedisClient::Impl::submit(const std::shared_ptr<Call>& call) {
  if (state_ == State::kStopped) {
    finish(*call, unavailable(stopped_why_));
    return;
  }
  // Before the first connection is up, calls queue behind it (bounded by the call timeout);
  // after any failure they fail at once until the connection is ready again.
  bool queue_ok = !down_ && (state_ == State::kResolving || state_ == State::kConnecting);
  if (state_ != State::kReady && !queue_ok) {
    finish(*call, unavailable(last_failure_.empty() ? "not connected" : last_failure_));
    return;
  }
  if (calls_in_pipeline_ + unsent_.size() >= kMaxOutstanding) {
    finish(*call, unavailable("too many commands outstanding"));
    return;
  }
  call->deadline = Clock::now() + opts_.timeout;
  inflight_.push_back(call);
  armTimeout();
  if (state_ == State::kReady) {
    send(call);
    flushWrites();
  } else {
    unsent_.push_back(call);  // held until the connection is ready (another address may win)
  }
}

// Appends the call to the pipeline; the caller flushes.
void RedisClient::Impl::send(const std::shared_ptr<Call>& call) {
  if (call->asking) {
    appendCommand({"ASKING"});
    pending_.push_back({kStepAsking, nullptr});
  }
  std::vector<std::string_view> argv;
  argv.reserve(call->args.size() + 2);
  if (call->script >= 0) {
    const auto i = static_cast<size_t>(call->script);
    if (shas_[i].empty()) call->as_eval = true;
    argv.emplace_back(call->as_eval ? "EVAL" : "EVALSHA");
    argv.emplace_back(call->as_eval ? scripts_[i] : shas_[i]);
  }
  for (const auto& a : call->args) argv.emplace_back(a);
  appendCommand(argv);
  pending_.push_back({kStepCall, call});
  call->sent_at = Clock::now();
  if (calls_in_pipeline_++ == 0) progress_at_ = call->sent_at;
}

void RedisClient::Impl::onCallReply(const std::shared_ptr<Call>& call, const redisReply& reply) {
  auto now = Clock::now();
  auto& stats = redisStats();
  stats.round_trips.fetch_add(1, std::memory_order_relaxed);
  stats.rtt_micros_total.fetch_add(
      std::chrono::duration_cast<std::chrono::microseconds>(now - call->sent_at).count(),
      std::memory_order_relaxed);
  if (call->done) {
    // Timed out earlier: Redis did the work all the same. Counted apart, not as an error.
    stats.late_replies.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (reply.type == REDIS_REPLY_ERROR) {
    std::string_view msg(reply.str, reply.len);
    // The server lost the script (SCRIPT FLUSH, restart, failover): send the text once; EVAL
    // also caches it again for the EVALSHAs that follow.
    if (call->script >= 0 && !call->as_eval && msg.starts_with("NOSCRIPT")) {
      call->as_eval = true;
      send(call);
      flushWrites();
      return;
    }
    // The node was demoted (a failover promoted another): this connection is of no use for
    // writes any more. A new one finds the primary.
    if (msg.starts_with("READONLY")) {
      stats.errors.fetch_add(1, std::memory_order_relaxed);
      finish(*call, unavailable("the node became a replica: " + std::string(msg)));
      popDone();
      // At once, so no call goes out on it meanwhile (the read loop stops: the reply in hand is
      // its own copy).
      if (state_ == State::kReady) lose("the node became a replica");
      return;
    }
    if (!call->raw_errors) {
      stats.errors.fetch_add(1, std::memory_order_relaxed);
      finish(*call, Error::upstream(ErrorCode::kUpstreamBadResponse, role_ + " error",
                                    "redis " + where_ + ": " + std::string(msg), false));
      popDone();
      return;
    }
  }
  finish(*call, copyReply(reply));
  popDone();
}

// Completes a call exactly once. The handler runs later from the loop, never inside the reader or
// inside the caller's stack: resuming a coroutine there could re-enter or destroy the client.
void RedisClient::Impl::finish(Call& call, Result<RedisReply> result) {
  if (call.done) return;
  call.done = true;
  if (!call.handler) return;
  asio::any_completion_handler<Call::Completion> handler(std::move(*call.handler));
  call.handler.reset();
  auto ex = asio::get_associated_executor(handler, io_.get_executor());
  asio::post(io_,
             asio::bind_executor(ex, [h = std::move(handler), r = std::move(result)]() mutable {
               std::move(h)(std::move(r));
             }));
}

void RedisClient::Impl::popDone() {
  while (!inflight_.empty() && inflight_.front()->done) inflight_.pop_front();
}

void RedisClient::Impl::failUnsent(const std::string& why) {
  if (unsent_.empty()) return;
  auto unsent = std::move(unsent_);
  unsent_.clear();
  Error e = unavailable(why);
  for (auto& call : unsent) {
    if (call->done) continue;
    redisStats().errors.fetch_add(1, std::memory_order_relaxed);
    finish(*call, e);
  }
  popDone();
}

// One timer serves every call: all share the same timeout, so deadlines follow submission order
// and the oldest call is always the next to expire.
void RedisClient::Impl::armTimeout() {
  if (timeout_armed_) return;
  popDone();
  if (inflight_.empty()) return;
  timeout_armed_ = true;
  timeout_timer_.expires_at(inflight_.front()->deadline);
  timeout_timer_.async_wait([self = shared_from_this()](const boost::system::error_code&) {
    self->timeout_armed_ = false;
    if (self->state_ == State::kStopped) return;
    self->onTimeouts();
  });
}

void RedisClient::Impl::onTimeouts() {
  auto now = Clock::now();
  while (!inflight_.empty()) {
    Call& front = *inflight_.front();
    if (!front.done) {
      if (front.deadline > now) break;
      redisStats().timeouts.fetch_add(1, std::memory_order_relaxed);
      Error e = Error::upstream(
          ErrorCode::kUpstreamTimeout, role_ + " timeout",
          "redis " + where_ + ": no reply within " + std::to_string(opts_.timeout.count()) + " ms",
          true);
      finish(front, std::move(e));
    }
    inflight_.pop_front();
  }
  // Calls time out one by one while a peer that vanished without a FIN or RST keeps the
  // connection "up" for many minutes: no reply at all for stall_limit_ means it is gone.
  if (conn_ && state_ == State::kReady && calls_in_pipeline_ > 0 &&
      now - progress_at_ >= stall_limit_) {
    lose("no reply for " +
         std::to_string(
             std::chrono::duration_cast<std::chrono::milliseconds>(now - progress_at_).count()) +
         " ms");
  }
  armTimeout();
}

}  // namespace tollgate::ratelimit
