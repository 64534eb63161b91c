// restore --follow (a warm standby kept current until SIGINT/SIGTERM, or until caught up with
// --once) and restore --promote (backup/standby.h).
#include <signal.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "agent/commands.h"
#include "agent/config.h"
#include "agent/repo_resolver.h"
#include "agent/stop_signal.h"
#include "backup/standby.h"
#include "common/clock.h"

namespace aura::agent {

namespace {

using json = nlohmann::json;

const std::atomic<bool>& g_stop = StopRequested();

json StateJson(const std::string& path, const backup::StandbyState& s) {
  return {{"standby", path},         {"database", s.database}, {"generation", s.generation},
          {"txid", s.txid},          {"pages", s.pages},       {"page_size", s.page_size},
          {"commit_us", s.commit_us}};
}

// One line (a JSON object under --json) per catch-up that applied something.
void Report(const Output& out, const std::string& path, const backup::StandbyStep& step) {
  if (step.to_txid == step.from_txid && !step.reseeded) return;
  const int64_t now = ToUnixMicros(std::chrono::system_clock::now());
  if (out.json()) {
    out.Json({{"event", step.reseeded ? "reseeded" : "applied"},
              {"from_txid", step.from_txid},
              {"txid", step.to_txid},
              {"segments", step.segments},
              {"first_commit_us", step.first_commit_us},
              {"last_commit_us", step.last_commit_us},
              {"applied_us", now}});
    return;
  }
  if (step.reseeded) {
    out.Line("standby " + path + ": reseeded at txid " + std::to_string(step.to_txid));
    return;
  }
  const double lag = step.first_commit_us > 0 ? double(now - step.first_commit_us) / 1e6 : 0;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", lag);
  out.Line("standby " + path + ": txid " + std::to_string(step.from_txid) + " -> " +
           std::to_string(step.to_txid) + " (" + std::to_string(step.segments) +
           " segment(s), lag " + buf + " s)");
}

int Follow(const RestoreArgs& args, const Output& out) {
  auto level = ParseIntegrityLevel(args.check);
  if (!level.ok()) return out.Fail(level.status());
  auto poll = ParseDurationMillis(args.poll_interval);
  if (!poll.ok() || *poll <= 0 || *poll > 3600 * 1000) {
    return out.Fail(InvalidArgument("--poll-interval: '" + args.poll_interval +
                                    "' is not a duration from 1ms to 1h (e.g. 1s, 250ms)"));
  }
  auto resolved = ResolveForRead(args.repo);
  if (!resolved.ok()) return out.Fail(resolved.status());
  auto repo = backup::Repository::Open(resolved->storage, resolved->keys);
  if (!repo.ok()) return out.Fail(repo.status());
  backup::StandbyOptions o;
  o.database = resolved->database;
  o.force = args.force;
  o.seed_check = *level;
  o.threads = args.threads;
  InstallStopHandlers();
  auto sb = backup::Standby::Open(**repo, args.to, o);
  if (!sb.ok()) return out.Fail(sb.status().WithContext("standby " + args.to));
  if (!out.json()) {
    out.Line("standby " + args.to + " of \"" + (*sb)->state().database + "\" at txid " +
             std::to_string((*sb)->state().txid) +
             (args.once ? "; catching up" : "; following until Ctrl-C or SIGTERM"));
  }
  std::string last_error;
  while (!g_stop) {
    auto step = (*sb)->CatchUp();
    if (!step.ok()) {
      if (args.once) return out.Fail(step.status().WithContext("standby " + args.to));
      if (step.status().message() != last_error) {
        spdlog::error("standby {}: {}", args.to, step.status().message());
        last_error = step.status().message();
      }
    } else {
      last_error.clear();
      Report(out, args.to, *step);
      if (args.once && step->to_txid >= step->newest_txid) break;
      if (step->to_txid != step->from_txid) continue;  // more may have arrived meanwhile
    }
    for (int64_t slept = 0; slept < *poll && !g_stop; slept += 10) {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(10, *poll)));
    }
  }
  json j = StateJson(args.to, (*sb)->state());
  j["event"] = "stopped";
  out.Json(j);
  out.Line("standby " + args.to + " stopped at txid " + std::to_string((*sb)->state().txid) +
           "; promote it with aura-agent restore --promote --to " + args.to);
  return 0;
}

int Promote(const RestoreArgs& args, const Output& out) {
  // Promotion's own proof is the checksum of every page; an integrity check is extra.
  auto level = ParseIntegrityLevel(args.check_given ? args.check : "none");
  if (!level.ok()) return out.Fail(level.status());
  const auto t0 = std::chrono::steady_clock::now();
  auto s = backup::PromoteStandby(args.to, *level, args.threads, std::chrono::seconds(30));
  if (!s.ok()) return out.Fail(s.status().WithContext("promote " + args.to));
  const int64_t ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  json j = StateJson(args.to, *s);
  j["event"] = "promoted";
  j["duration_ms"] = ms;
  j["integrity_check"] = *level == IntegrityLevel::kNone ? "skipped" : "ok";
  out.Json(j);
  out.Line("promoted " + args.to + ": the database of \"" + s->database + "\" at txid " +
           std::to_string(s->txid) + ", every page verified against the source's checksum, " +
           std::to_string(ms) + " ms; it is an ordinary database now");
  return 0;
}

}  // namespace

int RunStandby(const RestoreArgs& args, const Output& out) {
  if (args.to.empty()) return out.Fail(InvalidArgument("--to is required (the standby file)"));
  if (args.follow && args.promote) {
    return out.Fail(InvalidArgument("--follow and --promote are separate steps; pass one"));
  }
  if (args.latest || !args.snapshot.empty() || !args.at.empty() || args.txid >= 0 || args.dry_run) {
    return out.Fail(InvalidArgument(
        "a standby follows the newest point; --latest, --snapshot, --at, --txid and --dry-run "
        "do not apply to --follow or --promote"));
  }
  return args.follow ? Follow(args, out) : Promote(args, out);
}

}  // namespace aura::agent
