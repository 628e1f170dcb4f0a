// Exponential backoff with jitter, for reconnecting to the API server: the first retry comes
// quickly, later ones spread out up to a cap, and replicas that lost the server together do not
// come back in lockstep.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace tollgate::kube {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds cap, uint64_t seed);
  // The wait before the next attempt: a random time in [base/2, base], where base doubles from
  // `initial` on each call up to `cap`.
  std::chrono::milliseconds next();
  // After a success: the next failure starts from `initial` again.
  void reset() { base_ = initial_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds cap_;
  std::chrono::milliseconds base_;
  std::mt19937_64 rng_;
};

}  // namespace tollgate::kube
