// Prometheus text exposition (version 0.0.4) helpers: metric families with HELP/TYPE lines,
// escaped label values, and a fixed-bucket histogram.
//
// Thread-safety: plain values; the daemon touches them on its io thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace aura::agent {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds = DefaultSeconds());
  void Observe(double v);
  // Appends the _bucket, _sum and _count samples of `name` with `labels`.
  void Render(const std::string& name, const Labels& labels, std::string& out) const;
  uint64_t count() const { return count_; }
  static std::vector<double> DefaultSeconds();

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // cumulative when rendered
  double sum_ = 0;
  uint64_t count_ = 0;
};

// Collects samples by family so each family's HELP and TYPE come once, before its samples.
class MetricsText {
 public:
  void Sample(const std::string& name, const std::string& type, const std::string& help,
              const Labels& labels, double value);
  void Hist(const std::string& name, const std::string& help, const Labels& labels,
            const Histogram& h);
  std::string Finish() const;

 private:
  struct Family {
    std::string type, help, body;
  };
  Family& Get(const std::string& name, const std::string& type, const std::string& help);
  std::vector<std::string> order_;
  std::map<std::string, Family> families_;
};

std::string FormatLabels(const Labels& labels);

}  // namespace aura::agent
