// Concurrent use of one handle from two threads is refused (R4J_ERR_BUSY),
// while the same handle passed twice to one call is fine.
#include <thread>

#include "abi_handles.hpp"
#include "test_helpers.hpp"

TEST(Handles, ASecondThreadGetsBusyWhileACallHoldsTheHandle) {
  auto c = tiny_gpt2();
  r4j_model* m = nullptr;
  ASSERT_OK(r4j_model_create(&c, "cpu", &m));
  {
    r4j::Use<r4j_model> held(m, "model");  // as if a long call were running on this thread
    r4j_status other = R4J_OK;
    std::string message;
    std::thread t([&] {
      int64_t n;
      other = r4j_model_tensor_count(m, &n);
      message = r4j_last_error();
    });
    t.join();
    EXPECT_EQ(other, R4J_ERR_BUSY);
    EXPECT_NE(message.find("in use by a call on another thread"), std::string::npos) << message;
    EXPECT_EQ(r4j_model_destroy(m), R4J_ERR_BUSY) << "a handle in use is not destroyed";
  }
  int64_t n;
  ASSERT_OK(r4j_model_tensor_count(m, &n));
  ASSERT_OK(r4j_model_copy_weights(m, m));  // the same handle twice in one call
  ASSERT_OK(r4j_model_destroy(m));
}
