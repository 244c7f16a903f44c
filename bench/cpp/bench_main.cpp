// ember_bench entry point: Google Benchmark's main, plus --threads=N (sets Ember's CPU thread
// count before any benchmark runs; default: OMP_NUM_THREADS or the machine's cores).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "backend/cpu/parallel.h"

int main(int argc, char** argv) {
  int out = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--threads=", 10) == 0) {
      ember::cpu::set_num_threads(std::atoi(argv[i] + 10));
    } else {
      argv[out++] = argv[i];
    }
  }
  argc = out;
  benchmark::AddCustomContext("ember_threads", std::to_string(ember::cpu::get_num_threads()));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
