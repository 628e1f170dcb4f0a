// Prometheus metrics. Recording never touches a lock shared by all threads: every family keeps
// one shard per event loop (a mutex only that loop and the scrape ever take), and the scrape
// merges the shards. Values computed elsewhere (pool sizes, limiter counters, active
// connections) are read at scrape time through callbacks.
//
// Rendering is Prometheus text exposition 0.0.4 (`promtool check metrics` clean).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tollgate::metrics {

enum class Type { kCounter, kGauge, kHistogram };

using LabelValues = std::vector<std::string>;

class Family {
 public:
  Family(Type type, std::string name, std::string help, std::vector<std::string> label_names,
         std::vector<double> buckets);
  // Counter: adds v. Label values in the declared order.
  void inc(std::initializer_list<std::string_view> labels, double v = 1);
  // Histogram: records one observation.
  void observe(std::initializer_list<std::string_view> labels, double v);

  void render(std::string& out) const;
  const std::string& name() const { return name_; }

 private:
  struct Series {
    LabelValues labels;
    double value = 0;               // counter value, or histogram sum
    uint64_t count = 0;             // histogram count
    std::vector<uint64_t> buckets;  // histogram: per bucket (not cumulative)
  };
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct alignas(64) Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Series, KeyHash, std::equal_to<>> series;
  };
  static constexpr size_t kShards = 33;  // shard 0: threads that are not event loops

  Series& seriesFor(Shard& s, std::initializer_list<std::string_view> labels);
  Shard& shardForThisThread();

  Type type_;
  std::string name_, help_;
  std::vector<std::string> label_names_;
  std::vector<double> buckets_;
  std::array<Shard, kShards> shards_;
};

// A metric whose values are read when scraped.
struct CallbackMetric {
  Type type = Type::kGauge;
  std::string name, help;
  std::vector<std::string> label_names;
  std::function<std::vector<std::pair<LabelValues, double>>()> read;
};

class Registry {
 public:
  Family& counter(std::string name, std::string help, std::vector<std::string> label_names);
  Family& histogram(std::string name, std::string help, std::vector<std::string> label_names,
                    std::vector<double> buckets);
  void callback(CallbackMetric m);
  std::string render() const;

 private:
  mutable std::mutex mu_;  // registration and scrape only; never on the request path
  std::vector<std::unique_ptr<Family>> families_;
  std::vector<CallbackMetric> callbacks_;
};

// Escapes a label value for the text format.
void appendLabelValue(std::string& out, std::string_view v);

}  // namespace tollgate::metrics
