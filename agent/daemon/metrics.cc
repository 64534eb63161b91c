#include "agent/daemon/metrics.h"

#include <cmath>
#include <cstdio>

namespace aura::agent {

namespace {

std::string Number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string Escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

}  // namespace

std::string FormatLabels(const Labels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out += ",";
    out += labels[i].first + "=\"" + Escape(labels[i].second) + "\"";
  }
  return out + "}";
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size(), 0) {}

std::vector<double> Histogram::DefaultSeconds() {
  return {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600};
}

void Histogram::Observe(double v) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (v <= bounds_[i]) {
      ++counts_[i];
      break;
    }
  }
  sum_ += v;
  ++count_;
}

void Histogram::Render(const std::string& name, const Labels& labels, std::string& out) const {
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += i < bounds_.size() ? counts_[i] : 0;
    Labels l = labels;
    l.emplace_back("le", i < bounds_.size() ? Number(bounds_[i]) : "+Inf");
    out += name + "_bucket" + FormatLabels(l) + " " +
           std::to_string(i < bounds_.size() ? cumulative : count_) + "\n";
  }
  out += name + "_sum" + FormatLabels(labels) + " " + Number(sum_) + "\n";
  out += name + "_count" + FormatLabels(labels) + " " + std::to_string(count_) + "\n";
}

MetricsText::Family& MetricsText::Get(const std::string& name, const std::string& type,
                                      const std::string& help) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    order_.push_back(name);
    it = families_.emplace(name, Family{type, help, ""}).first;
  }
  return it->second;
}

void MetricsText::Sample(const std::string& name, const std::string& type, const std::string& help,
                         const Labels& labels, double value) {
  Get(name, type, help).body += name + FormatLabels(labels) + " " + Number(value) + "\n";
}

void MetricsText::Hist(const std::string& name, const std::string& help, const Labels& labels,
                       const Histogram& h) {
  h.Render(name, labels, Get(name, "histogram", help).body);
}

std::string MetricsText::Finish() const {
  std::string out;
  for (const std::string& name : order_) {
    const Family& f = families_.at(name);
    out += "# HELP " + name + " " + f.help + "\n# TYPE " + name + " " + f.type + "\n" + f.body;
  }
  return out;
}

}  // namespace aura::agent
