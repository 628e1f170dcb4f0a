#include "kube/events.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace tollgate::kube {
namespace {

namespace json = boost::json;

EventWrite rejection() {
  EventWrite e;
  e.api_version = "aigateway.envoyproxy.io/v1alpha1";
  e.kind = "AIGatewayRoute";
  e.ns = "apps";
  e.name = "Chat-Route";
  e.resource_version = "42";
  e.note = "spec.rules[0].backendRefs[0].weight: must be a number";
  e.reporting_instance = "tollgate-0";
  e.time = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
  return e;
}

TEST(KubeEvents, WarningAboutTheObjectInItsNamespace) {
  const EventWrite e = rejection();
  EXPECT_EQ(eventsPath(e), "/apis/events.k8s.io/v1/namespaces/apps/events");
  const json::object ev = json::parse(eventBody(e)).as_object();
  EXPECT_EQ(ev.at("apiVersion"), "events.k8s.io/v1");
  EXPECT_EQ(ev.at("type"), "Warning");
  EXPECT_EQ(ev.at("reason"), "Rejected");
  EXPECT_EQ(ev.at("action"), "Reconcile");
  EXPECT_EQ(ev.at("reportingController"), "tollgate");
  EXPECT_EQ(ev.at("reportingInstance"), "tollgate-0");
  EXPECT_EQ(ev.at("eventTime"), "2023-11-14T22:13:20.000000Z");  // a MicroTime, as required
  EXPECT_EQ(ev.at("metadata").at("generateName"), "chat-route.tollgate-");  // names are lowercase
  const json::object& regarding = ev.at("regarding").as_object();
  EXPECT_EQ(regarding.at("kind"), "AIGatewayRoute");
  EXPECT_EQ(regarding.at("namespace"), "apps");
  EXPECT_EQ(regarding.at("resourceVersion"), "42");
  EXPECT_EQ(ev.at("note").as_string(), e.note);
}

TEST(KubeEvents, NoteCutToTheApiLimitOnACharacterBoundary) {
  EventWrite e = rejection();
  e.note = std::string(kMaxEventNote - 1, 'x') + "\xC3\xA9 and more";  // é straddles the limit
  const json::object ev = json::parse(eventBody(e)).as_object();
  EXPECT_EQ(ev.at("note").as_string().size(), kMaxEventNote - 1);
}

TEST(KubeEvents, ClusterScopedObjectsReportInDefault) {
  EventWrite e = rejection();
  e.kind = "GatewayClass";
  e.ns.clear();
  EXPECT_EQ(eventsPath(e), "/apis/events.k8s.io/v1/namespaces/default/events");
  const json::object ev = json::parse(eventBody(e)).as_object();
  EXPECT_FALSE(ev.at("regarding").as_object().contains("namespace"));
}

}  // namespace
}  // namespace tollgate::kube
