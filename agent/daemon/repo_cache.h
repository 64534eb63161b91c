// RepoCache: the opened repositories of one database's targets, opened on first use from any
// pool thread. The first open of a target also removes what writes of a killed agent left open
// there (jobs.h: RemoveWritesOfKilledRuns). A failed open is not cached: the next use tries again.
//
// Thread-safety: safe for concurrent use (one mutex).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "agent/config.h"
#include "backup/repository.h"
#include "common/clock.h"

namespace aura::agent {

class RepoCache {
 public:
  RepoCache(std::shared_ptr<const Config> config, const Clock& clock)
      : config_(std::move(config)), clock_(clock) {}

  // The repository of the configured target `target`, creating it if the location is empty.
  Result<std::shared_ptr<backup::Repository>> Get(const std::string& target);

 private:
  std::mutex mu_;
  std::shared_ptr<const Config> config_;
  const Clock& clock_;
  std::map<std::string, std::shared_ptr<backup::Repository>> repos_;
};

}  // namespace aura::agent
