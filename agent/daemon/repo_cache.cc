#include "agent/daemon/repo_cache.h"

#include "agent/jobs.h"

namespace aura::agent {

Result<std::shared_ptr<backup::Repository>> RepoCache::Get(const std::string& target) {
  std::lock_guard lock(mu_);
  auto it = repos_.find(target);
  if (it != repos_.end()) return it->second;
  AURA_ASSIGN_OR_RETURN(auto handles, OpenTargets(*config_, {target}, clock_));
  std::shared_ptr<backup::Repository> repo = handles.front().repo;
  RemoveWritesOfKilledRuns(repo->storage());
  repos_[target] = repo;
  return repo;
}

}  // namespace aura::agent
