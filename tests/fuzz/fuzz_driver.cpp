// Runs a libFuzzer target without libFuzzer: replays every file given (or every
// file in given directories: the corpus and past crashes), then feeds a bounded
// number of deterministic pseudo-random mutations of them. Used in CI under
// ASan/UBSan; the `fuzz` preset links the same targets with -fsanitize=fuzzer.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  std::vector<std::vector<uint8_t>> inputs;
  for (int i = 1; i < argc; ++i) {
    std::filesystem::path p(argv[i]);
    std::vector<std::filesystem::path> files;
    if (std::filesystem::is_directory(p)) {
      for (auto& e : std::filesystem::recursive_directory_iterator(p))
        if (e.is_regular_file()) files.push_back(e.path());
    } else {
      files.push_back(p);
    }
    for (auto& f : files) {
      std::ifstream in(f, std::ios::binary);
      inputs.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
  }
  for (auto& in : inputs) LLVMFuzzerTestOneInput(in.data(), in.size());
  const char* env = std::getenv("TRIPLINE_FUZZ_ITERATIONS");
  long iterations = env ? std::atol(env) : 20000;
  std::mt19937_64 rng(12345);
  if (inputs.empty()) inputs.emplace_back();
  std::vector<uint8_t> buf;
  for (long i = 0; i < iterations; ++i) {
    buf = inputs[rng() % inputs.size()];
    int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits; ++e) {
      switch (rng() % 4) {
        case 0:  // flip a byte
          if (!buf.empty()) buf[rng() % buf.size()] = static_cast<uint8_t>(rng());
          break;
        case 1:  // truncate
          if (!buf.empty()) buf.resize(rng() % buf.size());
          break;
        case 2:  // insert random bytes
          buf.insert(buf.begin() + static_cast<long>(buf.empty() ? 0 : rng() % buf.size()),
                     1 + rng() % 16, static_cast<uint8_t>(rng()));
          break;
        default:  // set a byte to an interesting value
          if (!buf.empty()) {
            static const uint8_t kVals[] = {0, 1, 0x7f, 0x80, 0xff, 0x40, 0xc0, 6, 17};
            buf[rng() % buf.size()] = kVals[rng() % sizeof(kVals)];
          }
      }
    }
    LLVMFuzzerTestOneInput(buf.data(), buf.size());
  }
  std::printf("fuzz driver: %zu corpus inputs, %ld mutations, no crash\n", inputs.size(),
              iterations);
  return 0;
}
