// From the objects in the cluster to a configuration that serves everything valid.
//
// One bad object must not stop the others: a file reload keeps the whole last good configuration
// on any error, but in a cluster many people change objects independently. So an error that the
// loader (or the snapshot compiler) pins on one object sets that object aside, and the rest is
// built again:
//   1. every object in its current version;
//   2. an object with errors falls back to the last version of it that went live, if any (an
//      invalid change keeps the last good version of that object);
//   3. when that fails too, or there is none, the object is left out.
// Each step moves one object further down that list, so this ends after at most 2N+1 builds. An
// error no object can be blamed for (a bad environment variable) rejects the whole change and the
// last good configuration stays, as with files.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "config/model.h"
#include "kube/objects.h"
#include "kube/status.h"

namespace tollgate::kube {

// Builds a configuration from (label, JSON text) documents and returns every diagnostic of the
// load and of compiling it (errors make the build unusable). The caller keeps what it built: after
// a successful run(), the last build is the configuration to publish.
using BuildFn = std::function<std::vector<config::Diagnostic>(
    const std::vector<std::pair<std::string, std::string>>& docs)>;

struct ObjectOutcome {
  Verdict verdict;
  bool served = false;    // part of the configuration (in some version)
  bool previous = false;  // served in its last accepted version, not the current one
  std::string kind;
};

struct ReconcileResult {
  bool ok = false;  // false: nothing to publish, keep the last good configuration
  std::vector<config::Diagnostic> unattributed;  // why, when !ok
  std::map<std::string, ObjectOutcome> objects;  // every input object by label (when ok)
  int builds = 0;
  double elapsed_ms = 0;    // all builds together
  std::string fingerprint;  // of the documents that went into the configuration
};

// Holds the last accepted version of every object across runs. One thread at a time.
class Reconciler {
 public:
  ReconcileResult run(const std::vector<const CachedObject*>& objects, const BuildFn& build);

 private:
  struct Accepted {
    int64_t generation = 0;
    std::string content;
  };
  std::map<std::string, Accepted> accepted_;  // by label
};

// "field: message; field: message" for a status message or a log line.
std::string describe(const std::vector<config::Diagnostic>& diagnostics);

}  // namespace tollgate::kube
