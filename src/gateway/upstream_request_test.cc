#include "gateway/upstream_request.h"

#include <gtest/gtest.h>

#include "gateway/snapshot.h"

namespace tollgate::gateway {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

http::Request clientRequest() {
  http::Request req{boost::beast::http::verb::post, "/v1/chat/completions", 11};
  req.set(boost::beast::http::field::host, "gateway.local:8080");
  req.set(boost::beast::http::field::content_type, "text/plain");
  req.set(boost::beast::http::field::authorization, "Bearer client-key");
  req.set("X-Api-Key", "client-anthropic-key");
  req.set("Api-Key", "client-azure-key");
  req.set(boost::beast::http::field::connection, "keep-alive");
  req.set(boost::beast::http::field::expect, "100-continue");
  req.set("x-ai-eg-model", "client-says-model");
  req.set("x-request-id", "client-id");
  req.set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  req.set("tracestate", "client=1");
  req.set("x-custom", "kept");
  req.set("anthropic-version", "2023-06-01");
  req.body() = R"({"model":"gpt"})";
  return req;
}

RequestContext context() {
  RequestContext ctx;
  ctx.parsed.model = "gpt";
  ctx.request_id = "req-1";
  ctx.trace.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  ctx.trace.span_id = "00f067aa0ba902b7";
  ctx.tracestate = "vendor=2";
  return ctx;
}

providers::UpstreamRequest translated() {
  providers::UpstreamRequest up;
  up.method = "POST";
  up.path = "/v1/chat/completions?api-version=1";
  up.headers = {{"content-type", "application/json"}};
  return up;
}

TEST(BuildUpstreamRequest, ClientQueryOnlyWhenThePassThroughAsksForIt) {
  http::Request req = clientRequest();
  req.target("/v1/messages?beta=true");
  const RequestContext ctx = context();
  providers::UpstreamRequest up;
  up.path = "/v1/messages";
  providers::UpstreamRequest forwarding = up;
  forwarding.forward_client_query = true;
  EXPECT_EQ(buildUpstreamRequest(req, ctx, up, false).target, "/v1/messages");
  EXPECT_EQ(buildUpstreamRequest(req, ctx, forwarding, false).target, "/v1/messages?beta=true");
  // A translator that set its own query keeps it alone.
  forwarding.path = "/v1/messages?x=1";
  EXPECT_EQ(buildUpstreamRequest(req, ctx, forwarding, false).target, "/v1/messages?x=1");
}

TEST(BuildUpstreamRequest, ClientHeadersThenTheGatewaysThenTheTranslators) {
  const http::Request req = clientRequest();
  const RequestContext ctx = context();
  auto up = translated();
  const auto out = buildUpstreamRequest(req, ctx, up, /*drop_client_credentials=*/false);
  EXPECT_EQ(out.method, "POST");
  EXPECT_EQ(out.target, "/v1/chat/completions?api-version=1");
  const Headers want = {
      {"Authorization", "Bearer client-key"},
      {"X-Api-Key", "client-anthropic-key"},
      {"Api-Key", "client-azure-key"},
      {"x-custom", "kept"},
      {"anthropic-version", "2023-06-01"},
      {"x-ai-eg-model", "gpt"},
      {"x-request-id", "req-1"},
      {"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
      {"tracestate", "vendor=2"},
      {"content-type", "application/json"},  // the translator's replaces the client's
  };
  EXPECT_EQ(out.headers, want);
  EXPECT_EQ(out.body.data(), req.body().data());  // the client's bytes, not a copy
}

TEST(BuildUpstreamRequest, TheGatewaysCredentialsReplaceTheClients) {
  const http::Request req = clientRequest();
  const RequestContext ctx = context();
  auto up = translated();
  const auto out = buildUpstreamRequest(req, ctx, up, /*drop_client_credentials=*/true);
  for (const auto& [name, value] : out.headers) {
    EXPECT_NE(name, "Authorization");
    EXPECT_NE(name, "X-Api-Key");
    EXPECT_NE(name, "Api-Key");
  }
  EXPECT_EQ(out.headers.front().first, "x-custom");
}

TEST(BuildUpstreamRequest, NoTracestateWithoutOneAndTheTranslatorsBody) {
  const http::Request req = clientRequest();
  RequestContext ctx = context();
  ctx.tracestate.clear();
  auto up = translated();
  up.body_unchanged = false;
  up.body = R"({"messages":[]})";
  const auto out = buildUpstreamRequest(req, ctx, up, false);
  for (const auto& h : out.headers) EXPECT_NE(h.first, "tracestate");
  EXPECT_EQ(out.body, R"({"messages":[]})");
  EXPECT_EQ(out.body.data(), up.body.data());
}

TEST(UpstreamTarget, EndpointsInTurnWithTheBackendsTls) {
  const Snapshot snap(std::make_shared<const config::Config>());
  config::Backend backend;
  backend.endpoints = {{"a.example", 443, false}, {"10.0.0.2", 8443, true}};
  backend.tls.enabled = true;
  backend.tls.hostname = "api.example";
  const auto first = upstreamTarget(backend, snap, 0);
  EXPECT_EQ(first.host, "a.example");
  EXPECT_EQ(first.port, 443);
  EXPECT_TRUE(first.tls);
  EXPECT_EQ(first.tls_name, "api.example");
  EXPECT_EQ(first.tls_context, nullptr);  // the pool's (system CAs)
  EXPECT_EQ(upstreamTarget(backend, snap, 1).host, "10.0.0.2");
  EXPECT_EQ(upstreamTarget(backend, snap, 1).port, 8443);
  EXPECT_EQ(upstreamTarget(backend, snap, 2).host, "a.example");
}

TEST(UpstreamTarget, ABackendsOwnCasComeFromTheSnapshot) {
  Snapshot snap(std::make_shared<const config::Config>());
  config::Backend backend;
  backend.endpoints = {{"a.example", 443, false}};
  backend.tls.enabled = true;
  backend.tls.ca_pem = "-----BEGIN CERTIFICATE-----";
  auto context = std::make_shared<boost::asio::ssl::context>(boost::asio::ssl::context::tls_client);
  snap.backend_trust[&backend] = Snapshot::BackendTrust{context, "00000000000000ab"};
  const auto target = upstreamTarget(backend, snap, 0);
  EXPECT_EQ(target.tls_context, context.get());
  EXPECT_EQ(target.ca_id, "00000000000000ab");
  // A bundle the snapshot could not use (reported as a Diagnostic) leaves the pool's context.
  snap.backend_trust.clear();
  EXPECT_EQ(upstreamTarget(backend, snap, 0).tls_context, nullptr);
}

}  // namespace
}  // namespace tollgate::gateway
