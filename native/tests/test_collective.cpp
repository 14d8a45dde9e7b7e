// The c10d process group with two real processes over loopback: the test
// process is rank 0 and starts itself again (the same test, by filter) as
// rank 1. Every started process is waited for with a bound and killed by pid.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <thread>

#include "collective.hpp"
#include "errors.hpp"
#include "optim.hpp"

extern char** environ;

using namespace r4j;
using Clock = std::chrono::steady_clock;

namespace {

// A port nobody listens on now (the kernel's choice for port 0).
int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

DistConfig config(int rank, int port, int64_t timeout_ms) {
  DistConfig c;
  c.rank = rank;
  c.world_size = 2;
  c.local_rank = rank;
  c.local_world_size = 2;
  c.master_addr = "127.0.0.1";
  c.master_port = port;
  c.timeout_ms = timeout_ms;
  return c;
}

std::string current_test() {
  auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return std::string(info->test_suite_name()) + "." + info->name();
}

// Runs body(rank, port) as rank 0 here and as rank 1 in a child process
// running this same test; the child's failures fail its exit status.
void two_ranks(const std::function<void(int rank, int port)>& body) {
  if (const char* r = std::getenv("R4J_TEST_RANK")) {
    body(std::atoi(r), std::atoi(std::getenv("R4J_TEST_PORT")));
    return;
  }
  const int port = free_port();
  std::string filter = "--gtest_filter=" + current_test();
  std::string rank_env = "R4J_TEST_RANK=1", port_env = "R4J_TEST_PORT=" + std::to_string(port);
  std::vector<char*> env;
  for (char** e = environ; *e; ++e) env.push_back(*e);
  env.push_back(rank_env.data());
  env.push_back(port_env.data());
  env.push_back(nullptr);
  std::string self = "/proc/self/exe";
  char* argv[] = {self.data(), filter.data(), nullptr};
  pid_t child = 0;
  ASSERT_EQ(posix_spawn(&child, "/proc/self/exe", nullptr, nullptr, argv, env.data()), 0);
  body(0, port);
  int status = 0;
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (waitpid(child, &status, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      kill(child, SIGKILL);
      waitpid(child, &status, 0);
      FAIL() << "rank 1 (pid " << child << ") did not finish within 60 s";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "rank 1 failed, status " << status;
}

// Fails the (child) process when a check failed, so the parent sees it.
void finish_rank(int rank) {
  dist_shutdown();
  if (rank != 0 && ::testing::Test::HasFailure()) _exit(1);
}

}  // namespace

TEST(Collective, AllReduceBroadcastAndBarrierAcrossTwoProcesses) {
  two_ranks([](int rank, int port) {
    // Rank 1 comes first and must wait for the store rather than give up.
    if (rank == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    dist_init(config(rank, port, 20000));
    EXPECT_TRUE(dist_active());
    EXPECT_EQ(dist_rank(), rank);
    EXPECT_EQ(dist_world_size(), 2);
    auto d = at::tensor({1.0 + rank, -2.0 * rank, 0.5}, at::kDouble);
    auto sum = d.clone(), mx = d.clone(), mn = d.clone();
    all_reduce_(sum, Reduce::Sum);
    all_reduce_(mx, Reduce::Max);
    all_reduce_(mn, Reduce::Min);
    EXPECT_TRUE(sum.equal(at::tensor({3.0, -2.0, 1.0}, at::kDouble)));
    EXPECT_TRUE(mx.equal(at::tensor({2.0, 0.0, 0.5}, at::kDouble)));
    EXPECT_TRUE(mn.equal(at::tensor({1.0, -2.0, 0.5}, at::kDouble)));
    auto counts = at::tensor({int64_t{7} + rank}, at::kLong);
    all_reduce_(counts, Reduce::Sum);
    EXPECT_EQ(counts.item<int64_t>(), 15);
    EXPECT_TRUE(all_ranks_sum(at::full({2, 2}, 1.0f + rank)).equal(at::full({2, 2}, 3.0f)));

    std::vector<at::Tensor> weights{at::full({3, 4}, 10.0f * (rank + 1)), at::arange(5, at::kFloat) * (rank + 1)};
    broadcast_(weights, 0);
    EXPECT_TRUE(weights[0].equal(at::full({3, 4}, 10.0f)));
    EXPECT_TRUE(weights[1].equal(at::arange(5, at::kFloat)));
    EXPECT_EQ(tensors_checksum(weights), tensors_checksum({at::full({3, 4}, 10.0f), at::arange(5, at::kFloat)}));
    EXPECT_NE(tensors_checksum(weights), tensors_checksum({at::full({3, 4}, 10.0f), at::arange(5, at::kFloat) + 1e-6}));
    dist_barrier();
    EXPECT_GT(dist_counters().allreduce_bytes, 0);
    finish_rank(rank);
  });
}

TEST(Collective, OptimizerStepsWithTheAverageGradientAndSkipsTogether) {
  two_ranks([](int rank, int port) {
    dist_init(config(rank, port, 20000));
    auto w = at::zeros({4}, at::kFloat).requires_grad_(true);
    auto only_rank1 = at::zeros({2}, at::kFloat).requires_grad_(true);
    auto nowhere = at::zeros({3}, at::kFloat).requires_grad_(true);
    r4j_adamw_options o;
    r4j_adamw_options_defaults(&o);
    o.max_grad_norm = 1.0;
    AdamW opt({{"w", w}, {"only_rank1", only_rank1}, {"nowhere", nowhere}}, o);
    // Rank gradients (1,1,1,1) and (3,3,3,3): the average (2,2,2,2) has norm 4
    // with only_rank1's (1, 1) / 2: the clip must see sqrt(16 + 0.5).
    w.mutable_grad() = at::full({4}, 1.0f + 2 * rank);
    if (rank == 1) only_rank1.mutable_grad() = at::ones({2});
    auto r = opt.step(1e-2);
    EXPECT_NEAR(r.grad_norm, std::sqrt(16.5), 1e-5);
    EXPECT_EQ(r.skipped, 0);
    EXPECT_EQ(nowhere.abs().sum().item<float>(), 0.0f) << "a parameter without a gradient anywhere is not stepped";
    EXPECT_LT(only_rank1[0].item<float>(), 0.0f) << "rank 0 steps it too, with the averaged gradient";
    auto weights = tensors_checksum({w, only_rank1, nowhere});
    auto both = at::tensor({weights}, at::kLong), low = both.clone();
    all_reduce_(both, Reduce::Max);
    all_reduce_(low, Reduce::Min);
    EXPECT_EQ(both.item<int64_t>(), low.item<int64_t>()) << "ranks drifted apart";
    // A NaN on one rank only: both ranks skip the step.
    w.mutable_grad() = at::full({4}, rank == 1 ? std::numeric_limits<float>::quiet_NaN() : 1.0f);
    auto before = w.detach().clone();
    auto skip = opt.step(1e-2);
    EXPECT_EQ(skip.skipped, 1);
    EXPECT_TRUE(w.detach().equal(before));
    finish_rank(rank);
  });
}

TEST(Collective, ALostPeerFailsTheNextCollectiveNamingIt) {
  two_ranks([](int rank, int port) {
    dist_init(config(rank, port, 8000));
    dist_barrier();
    if (rank == 1) {  // gone without a word while rank 0 waits in the all-reduce, as a killed process
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      _exit(0);
    }
    auto t = at::ones({1000}, at::kFloat);
    const auto start = Clock::now();
    try {
      all_reduce_(t, Reduce::Sum);
      FAIL() << "the all-reduce succeeded without its peer";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("lost rank 1"), std::string::npos) << e.what();
    }
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(8 + 6));
    // The group stays failed: the next collective repeats the diagnosis at once.
    try {
      dist_barrier();
      FAIL() << "a broken group ran a barrier";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("lost rank 1"), std::string::npos) << e.what();
    }
    dist_shutdown();
  });
}

TEST(Collective, APortInUseOrAnUnreachableMasterIsAClearErrorWithinTheTimeout) {
  // Port in use: someone else listens where rank 0 must host the store.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  auto start = Clock::now();
  try {
    dist_init(config(0, ntohs(a.sin_port), 3000));
    FAIL() << "a store was hosted on a port in use";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot host the rendezvous store at 127.0.0.1:"), std::string::npos)
        << e.what();
  }
  close(fd);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(3 + 5));
  EXPECT_FALSE(dist_active());

  // Unreachable master: rank 1 of 2 with nobody at the address.
  start = Clock::now();
  try {
    dist_init(config(1, free_port(), 1500));
    FAIL() << "joined a group whose master does not exist";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot reach the rendezvous store at 127.0.0.1:"), std::string::npos)
        << e.what();
  }
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(1500 + 5000));
}
