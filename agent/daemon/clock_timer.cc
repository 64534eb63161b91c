#include "agent/daemon/clock_timer.h"

#include <boost/asio/post.hpp>

namespace aura::agent {

using std::chrono::nanoseconds;

void ClockTimer::ExpiresAt(TimePoint wall) {
  Cancel();
  wall_ = true;
  wall_deadline_ = wall;
}

void ClockTimer::ExpiresAfter(nanoseconds d) {
  Cancel();
  wall_ = false;
  steady_deadline_ = clock_.SteadyNow() + d;
}

nanoseconds ClockTimer::Remaining() const {
  if (wall_) return std::chrono::duration_cast<nanoseconds>(wall_deadline_ - clock_.Now());
  return std::chrono::duration_cast<nanoseconds>(steady_deadline_ - clock_.SteadyNow());
}

void ClockTimer::AsyncWait(Handler handler) { Sleep(generation_, std::move(handler)); }

void ClockTimer::Cancel() {
  ++generation_;
  timer_.cancel();
}

void ClockTimer::Sleep(uint64_t generation, Handler handler) {
  const nanoseconds remaining = Remaining();
  if (remaining <= nanoseconds::zero()) {
    // Due now; a Cancel or new deadline before the handler runs still aborts it.
    boost::asio::post(timer_.get_executor(), [this, generation, h = std::move(handler)] {
      h(generation == generation_ ? boost::system::error_code()
                                  : boost::asio::error::operation_aborted);
    });
    return;
  }
  // The handler travels with the pending wait (as with steady_timer), never in the timer, so an
  // owner captured by it is not kept alive by its own member.
  timer_.expires_after(std::min<nanoseconds>(remaining, clock_.RecheckInterval()));
  timer_.async_wait([this, generation, h = std::move(handler)](boost::system::error_code ec) {
    if (ec) return h(ec);  // cancelled or destroyed: `this` may be gone
    if (generation != generation_) return h(boost::asio::error::operation_aborted);
    Sleep(generation, std::move(h));
  });
}

}  // namespace aura::agent
