#ifndef COHORT_TESTS_TESTING_SYNTHETIC_IDX_H_
#define COHORT_TESTS_TESTING_SYNTHETIC_IDX_H_

#include <cstdint>
#include <string>

namespace cohort::testing {

// Writes a small, learnable stand-in for Fashion-MNIST into `dir` under
// Debian's file names (train-images-idx3-ubyte.gz, ..., t10k-labels-...):
// 28x28 images of noise with a bright patch whose position encodes the label.
// Returns false on I/O failure.
bool WriteSyntheticFashionMnist(const std::string& dir, int num_train,
                                int num_test, uint64_t seed);

}  // namespace cohort::testing

#endif  // COHORT_TESTS_TESTING_SYNTHETIC_IDX_H_
