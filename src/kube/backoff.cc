#include "kube/backoff.h"

#include <algorithm>

namespace tollgate::kube {

Backoff::Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds cap, uint64_t seed)
    : initial_(std::max(initial, std::chrono::milliseconds(1))),
      cap_(std::max(cap, initial_)),
      base_(initial_),
      rng_(seed) {}

std::chrono::milliseconds Backoff::next() {
  const auto base = base_;
  base_ = std::min(cap_, base_ * 2);
  std::uniform_int_distribution<int64_t> jitter(base.count() / 2, base.count());
  return std::chrono::milliseconds(jitter(rng_));
}

}  // namespace tollgate::kube
