#include "common/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace aura {

namespace {

// "0:02", "12:34", "1:02:03".
std::string FormatDuration(uint64_t seconds) {
  char buf[32];
  const uint64_t h = seconds / 3600, m = seconds / 60 % 60, s = seconds % 60;
  if (h > 0) {
    std::snprintf(buf, sizeof buf, "%llu:%02llu:%02llu", static_cast<unsigned long long>(h),
                  static_cast<unsigned long long>(m), static_cast<unsigned long long>(s));
  } else {
    std::snprintf(buf, sizeof buf, "%llu:%02llu", static_cast<unsigned long long>(m),
                  static_cast<unsigned long long>(s));
  }
  return buf;
}

bool IsSet(const ProgressContext& c, const char* name) {
  const char* v = c.getenv ? c.getenv(name) : nullptr;
  return v != nullptr && *v != '\0';
}

// Redraws at most this often: enough to look alive, rare enough to cost nothing.
constexpr auto kRedrawInterval = std::chrono::milliseconds(250);

}  // namespace

Progress& ProgressOr(Progress* p) {
  static NullProgress null;
  return p != nullptr ? *p : null;
}

void ProgressShare::Add(uint64_t from) {
  from_ += from;
  const double share = from_total_ == 0 || from_ >= from_total_
                           ? 1.0
                           : static_cast<double>(from_) / static_cast<double>(from_total_);
  const auto now = static_cast<uint64_t>(share * static_cast<double>(to_total_));
  if (now > reported_) p_.Add(now - reported_);
  reported_ = std::max(reported_, now);
}

std::string FormatBytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

std::string FormatProgressLine(std::string_view what, uint64_t done, uint64_t total,
                               std::chrono::steady_clock::duration elapsed) {
  std::string line(what);
  line += "  " + FormatBytes(done);
  if (total > 0) {
    const uint64_t pct = done >= total ? 100 : done * 100 / total;
    line += " / " + FormatBytes(total) + "  " + std::to_string(pct) + "%";
  }
  const double seconds = std::chrono::duration<double>(elapsed).count();
  // Done (a restore still checking, say): a rate falling while nothing moves would mislead.
  if (seconds <= 0 || done == 0 || (total > 0 && done >= total)) return line;
  const double rate = static_cast<double>(done) / seconds;
  line += "  " + FormatBytes(static_cast<uint64_t>(rate)) + "/s";
  if (total > done) {
    line += "  ETA " + FormatDuration(static_cast<uint64_t>((total - done) / rate + 0.5));
  }
  return line;
}

bool ProgressWanted(const ProgressContext& c) {
  if (!c.stderr_is_tty || c.json || c.no_progress) return false;
  const char* term = c.getenv ? c.getenv("TERM") : nullptr;
  if (term != nullptr && std::strcmp(term, "dumb") == 0) return false;
  if (IsSet(c, "INVOCATION_ID") || IsSet(c, "NOTIFY_SOCKET") || IsSet(c, "LAUNCHD_JOB")) {
    return false;
  }
  // launchd sets XPC_SERVICE_NAME for its jobs; a Terminal session has it as "0".
  const char* xpc = c.getenv ? c.getenv("XPC_SERVICE_NAME") : nullptr;
  return xpc == nullptr || *xpc == '\0' || std::strcmp(xpc, "0") == 0;
}

ProgressContext CurrentProgressContext(bool json, bool no_progress) {
  ProgressContext c;
  c.stderr_is_tty = ::isatty(STDERR_FILENO) == 1;
  c.json = json;
  c.no_progress = no_progress;
  c.getenv = [](const char* name) -> const char* { return std::getenv(name); };
  return c;
}

TerminalProgress::TerminalProgress(std::FILE* out) : out_(out) {
  ticker_ = std::thread([this] { Tick(); });
}

TerminalProgress::~TerminalProgress() {
  Finish();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  ticker_.join();
}

void TerminalProgress::Start(std::string_view what, uint64_t total_bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  what_ = what;
  done_.store(0, std::memory_order_relaxed);
  total_.store(total_bytes, std::memory_order_relaxed);
  started_ = std::chrono::steady_clock::now();
  active_ = true;
  DrawLocked();  // at once: short work shows its line too
  wake_.notify_all();
}

void TerminalProgress::AddTotal(uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  total_.fetch_add(bytes, std::memory_order_relaxed);
  if (active_) DrawLocked();  // rare (once per piece found), and short work shows it too
}

void TerminalProgress::Add(uint64_t bytes) { done_.fetch_add(bytes, std::memory_order_relaxed); }

void TerminalProgress::Finish() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!active_) return;
  active_ = false;
  std::fputs("\r\033[K", out_);
  std::fflush(out_);
}

void TerminalProgress::Tick() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    if (active_) {
      wake_.wait_for(lock, kRedrawInterval);
      if (active_ && !stop_) DrawLocked();
    } else {
      wake_.wait(lock);
    }
  }
}

void TerminalProgress::DrawLocked() {
  std::string line = FormatProgressLine(what_, done_.load(std::memory_order_relaxed),
                                        total_.load(std::memory_order_relaxed),
                                        std::chrono::steady_clock::now() - started_);
  // A line longer than the terminal wraps, and `\r` would then redraw only its last row.
  struct winsize ws = {};
  if (::ioctl(::fileno(out_), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 && line.size() >= ws.ws_col) {
    line.resize(ws.ws_col - 1);
  }
  std::fprintf(out_, "\r%s\033[K", line.c_str());
  std::fflush(out_);
}

}  // namespace aura
