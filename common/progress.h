// Progress of long work (backup, restore, verify, drill): what the engine reports to, and the
// one-line terminal display the CLI shows while it runs.
//
// The engine takes an optional `Progress*` (nullptr: nothing is reported, at no cost; the daemon
// and library callers leave it so) and reports bytes as they are done. The CLI decides whether
// to show a line at all (ProgressWanted) and hands a TerminalProgress in when it does.
//
// Thread-safety: every Progress method may be called from any thread (codec and verify threads
// report concurrently); Add is one relaxed atomic add, cheap enough for every block.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace aura {

class Progress {
 public:
  virtual ~Progress() = default;
  // Begins (or, after a retry, restarts) a piece of work named `what` ("backup", "restore"):
  // done goes back to 0, the total to `total_bytes` (0: not known; then only bytes and rate
  // are shown).
  virtual void Start(std::string_view what, uint64_t total_bytes) = 0;
  // More work was found on the way (e.g. the WAL segments after a restored snapshot).
  virtual void AddTotal(uint64_t bytes) = 0;
  // `bytes` more are done.
  virtual void Add(uint64_t bytes) = 0;
  // The work is over (done or failed): the display goes away. Start may follow again.
  virtual void Finish() = 0;
};

// Reports nothing. What `ProgressOr(nullptr)` returns.
class NullProgress final : public Progress {
 public:
  void Start(std::string_view, uint64_t) override {}
  void AddTotal(uint64_t) override {}
  void Add(uint64_t) override {}
  void Finish() override {}
};

// `p`, or a shared NullProgress when it is nullptr: engine code reports unconditionally.
Progress& ProgressOr(Progress* p);

// Reports work counted in one unit as its share of another: verify decodes plaintext but counts
// the stored bytes it came from. Reports exactly `to_total` once `from_total` is added.
class ProgressShare {
 public:
  ProgressShare(Progress& p, uint64_t from_total, uint64_t to_total)
      : p_(p), from_total_(from_total), to_total_(to_total) {}
  void Add(uint64_t from);

 private:
  Progress& p_;
  const uint64_t from_total_, to_total_;
  uint64_t from_ = 0, reported_ = 0;
};

// The text of one progress line, e.g.
//   "restore  312.0 MiB / 1011.2 MiB  31%  402.1 MiB/s  ETA 0:02"
// with an unknown total (0) "verify  312.0 MiB  402.1 MiB/s"; no rate or ETA before any time has
// passed or any byte is done. Percent is capped at 100 (the total may be an estimate).
std::string FormatProgressLine(std::string_view what, uint64_t done, uint64_t total,
                               std::chrono::steady_clock::duration elapsed);

// "1011.2 MiB" (binary units; "0 B" .. "1023 B", then one decimal).
std::string FormatBytes(uint64_t bytes);

// What decides whether a progress line is shown (ProgressWanted). The CLI fills it from the
// process (CurrentProgressContext); tests fill it by hand.
struct ProgressContext {
  bool stderr_is_tty = false;
  bool json = false;         // --json: output is for programs
  bool no_progress = false;  // --no-progress
  // The environment: the value of a variable, nullptr when unset (::getenv in the CLI).
  std::function<const char*(const char*)> getenv;
};

// True only on an interactive terminal: stderr is a TTY, no --json or --no-progress, TERM is not
// "dumb", and no service manager runs the process (systemd: INVOCATION_ID or NOTIFY_SOCKET;
// launchd: LAUNCHD_JOB, or XPC_SERVICE_NAME other than "0").
bool ProgressWanted(const ProgressContext& context);

// isatty(2) and the real environment.
ProgressContext CurrentProgressContext(bool json, bool no_progress);

// Redraws one line on a terminal (`\r`, the text, clear to end of line) from a ticker thread, at
// most four times a second, while work runs; a frame is also drawn at Start and whenever the
// total grows (so even work shorter than a tick shows its line), and the line is cleared at
// Finish. The stream must be a terminal (ProgressWanted); nothing else should write
// to it between Start and Finish, or the line and that output interleave.
class TerminalProgress final : public Progress {
 public:
  explicit TerminalProgress(std::FILE* out = stderr);
  ~TerminalProgress() override;  // finishes, stops the ticker
  TerminalProgress(const TerminalProgress&) = delete;
  TerminalProgress& operator=(const TerminalProgress&) = delete;

  void Start(std::string_view what, uint64_t total_bytes) override;
  void AddTotal(uint64_t bytes) override;
  void Add(uint64_t bytes) override;
  void Finish() override;

 private:
  void Tick();
  void DrawLocked();

  std::FILE* out_;
  std::atomic<uint64_t> done_{0};
  std::atomic<uint64_t> total_{0};
  std::mutex mu_;  // guards what follows and the stream
  std::condition_variable wake_;
  std::string what_;
  bool active_ = false;
  bool stop_ = false;
  std::chrono::steady_clock::time_point started_;
  std::thread ticker_;
};

}  // namespace aura
