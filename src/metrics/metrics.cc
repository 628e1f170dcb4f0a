#include "metrics/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "common/thread_index.h"

namespace tollgate::metrics {

namespace {

void appendNumber(std::string& out, double v) {
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[40];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.9g", v);
  }
  out += buf;
}

void appendLabels(std::string& out, const std::vector<std::string>& names,
                  const LabelValues& values, std::string_view extra_name = {},
                  std::string_view extra_value = {}) {
  bool any = false;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    if (values[i].empty()) continue;  // an empty label is the same as no label in Prometheus
    out += any ? ',' : '{';
    any = true;
    out += names[i];
    out += "=\"";
    appendLabelValue(out, values[i]);
    out += '"';
  }
  if (!extra_name.empty()) {
    out += any ? ',' : '{';
    any = true;
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  if (any) out += '}';
}

std::string_view typeName(Type t) {
  switch (t) {
    case Type::kCounter:
      return "counter";
    case Type::kGauge:
      return "gauge";
    case Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

void appendHeader(std::string& out, const std::string& name, const std::string& help, Type t) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += typeName(t);
  out += '\n';
}

}  // namespace

void appendLabelValue(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

Family::Family(Type type, std::string name, std::string help, std::vector<std::string> label_names,
               std::vector<double> buckets)
    : type_(type),
      name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      buckets_(std::move(buckets)) {}

Family::Shard& Family::shardForThisThread() {
  int i = currentLoopIndex() + 1;
  if (i < 0 || static_cast<size_t>(i) >= kShards) i = 0;
  return shards_[static_cast<size_t>(i)];
}

Family::Series& Family::seriesFor(Shard& s, std::initializer_list<std::string_view> labels) {
  // The key is built in a reused per-thread buffer: a hit allocates nothing.
  thread_local std::string key;
  key.clear();
  for (auto l : labels) {
    key.append(l);
    key += '\x1f';
  }
  auto it = s.series.find(std::string_view(key));
  if (it != s.series.end()) return it->second;
  Series fresh;
  for (auto l : labels) fresh.labels.emplace_back(l);
  if (type_ == Type::kHistogram) fresh.buckets.assign(buckets_.size(), 0);
  return s.series.emplace(key, std::move(fresh)).first->second;
}

void Family::inc(std::initializer_list<std::string_view> labels, double v) {
  Shard& s = shardForThisThread();
  std::lock_guard lock(s.mu);
  seriesFor(s, labels).value += v;
}

void Family::observe(std::initializer_list<std::string_view> labels, double v) {
  Shard& s = shardForThisThread();
  std::lock_guard lock(s.mu);
  Series& series = seriesFor(s, labels);
  series.value += v;
  ++series.count;
  auto it = std::lower_bound(buckets_.begin(), buckets_.end(), v);
  if (it != buckets_.end()) ++series.buckets[static_cast<size_t>(it - buckets_.begin())];
}

void Family::render(std::string& out) const {
  std::map<std::string, Series> merged;  // sorted: stable output
  for (const auto& s : shards_) {
    std::lock_guard lock(s.mu);
    for (const auto& [k, v] : s.series) {
      auto [it, inserted] = merged.try_emplace(k, v);
      if (inserted) continue;
      it->second.value += v.value;
      it->second.count += v.count;
      for (size_t i = 0; i < v.buckets.size(); ++i) it->second.buckets[i] += v.buckets[i];
    }
  }
  appendHeader(out, name_, help_, type_);
  for (const auto& [k, s] : merged) {
    if (type_ != Type::kHistogram) {
      out += name_;
      appendLabels(out, label_names_, s.labels);
      out += ' ';
      appendNumber(out, s.value);
      out += '\n';
      continue;
    }
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= buckets_.size(); ++i) {
      if (i < buckets_.size()) cumulative += s.buckets[i];
      std::string le;
      if (i < buckets_.size()) {
        appendNumber(le, buckets_[i]);
      } else {
        le = "+Inf";
      }
      out += name_;
      out += "_bucket";
      appendLabels(out, label_names_, s.labels, "le", le);
      out += ' ';
      appendNumber(out, static_cast<double>(i < buckets_.size() ? cumulative : s.count));
      out += '\n';
    }
    out += name_;
    out += "_sum";
    appendLabels(out, label_names_, s.labels);
    out += ' ';
    appendNumber(out, s.value);
    out += '\n';
    out += name_;
    out += "_count";
    appendLabels(out, label_names_, s.labels);
    out += ' ';
    appendNumber(out, static_cast<double>(s.count));
    out += '\n';
  }
}

Family& Registry::counter(std::string name, std::string help, std::vector<std::string> labels) {
  std::lock_guard lock(mu_);
  families_.push_back(std::make_unique<Family>(Type::kCounter, std::move(name), std::move(help),
                                               std::move(labels), std::vector<double>{}));
  return *families_.back();
}

Family& Registry::histogram(std::string name, std::string help, std::vector<std::string> labels,
                            std::vector<double> buckets) {
  std::lock_guard lock(mu_);
  families_.push_back(std::make_unique<Family>(Type::kHistogram, std::move(name), std::move(help),
                                               std::move(labels), std::move(buckets)));
  return *families_.back();
}

void Registry::callback(CallbackMetric m) {
  std::lock_guard lock(mu_);
  callbacks_.push_back(std::move(m));
}

std::string Registry::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  out.reserve(16384);
  for (const auto& f : families_) f->render(out);
  for (const auto& c : callbacks_) {
    appendHeader(out, c.name, c.help, c.type);
    for (const auto& [labels, value] : c.read()) {
      out += c.name;
      appendLabels(out, c.label_names, labels);
      out += ' ';
      appendNumber(out, value);
      out += '\n';
    }
  }
  return out;
}

}  // namespace tollgate::metrics
