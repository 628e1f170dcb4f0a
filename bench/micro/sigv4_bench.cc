// What AWS SigV4 signing costs per Bedrock request (Google Benchmark). Run by
// bench/load/run.sh's Bedrock section, or alone:
//   cmake --build build --target micro_bench && build/micro_bench
// Signing is on every Bedrock request's path: canonical request, two SHA-256 (body, canonical
// request), four HMACs to derive the signing key and one to sign.
#include <benchmark/benchmark.h>

#include <chrono>
#include <string>

#include "auth/sigv4.h"

namespace {

using tollgate::auth::AwsCredentials;
using tollgate::auth::SignOptions;
using tollgate::auth::SignRequest;

std::string body(size_t bytes) {
  std::string b =
      R"({"anthropic_version":"bedrock-2023-05-31","max_tokens":256,"messages":[{"role":"user","content":")";
  while (b.size() + 4 < bytes) b += "The gateway signs every request. ";
  b += "\"}]}";
  return b;
}

SignRequest bedrockRequest(const std::string& payload) {
  SignRequest r;
  r.method = "POST";
  r.path = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke";
  r.headers = {{"host", "bedrock-runtime.us-east-1.amazonaws.com"},
               {"content-type", "application/json"},
               {"accept", "application/json"}};
  r.body = payload;
  return r;
}

void BM_SignBedrockInvoke(benchmark::State& state) {
  const std::string payload = body(static_cast<size_t>(state.range(0)));
  const AwsCredentials creds{"ASIAEXAMPLEKEY000001", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                             "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN", std::nullopt};
  SignOptions opts;
  opts.region = "us-east-1";
  opts.service = "bedrock";
  opts.now = std::chrono::system_clock::now();
  for (auto _ : state) {
    SignRequest r = bedrockRequest(payload);
    tollgate::auth::signRequest(r, creds, opts);
    benchmark::DoNotOptimize(r.headers.back().second.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(payload.size()));
}
BENCHMARK(BM_SignBedrockInvoke)->Arg(256)->Arg(1024)->Arg(16 * 1024)->Arg(256 * 1024);

// The request copy alone, to subtract from the above.
void BM_CopyRequestOnly(benchmark::State& state) {
  const std::string payload = body(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    SignRequest r = bedrockRequest(payload);
    benchmark::DoNotOptimize(r.body.data());
  }
}
BENCHMARK(BM_CopyRequestOnly)->Arg(1024);

void BM_Sha256(benchmark::State& state) {
  const std::string payload = body(static_cast<size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(tollgate::auth::sha256Hex(payload));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(payload.size()));
}
BENCHMARK(BM_Sha256)->Arg(1024)->Arg(256 * 1024);

}  // namespace

BENCHMARK_MAIN();
