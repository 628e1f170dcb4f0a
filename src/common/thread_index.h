// The index of the event loop running on this thread (-1 off the loops). Set by
// http::EventLoops; read by per-thread structures (metric shards) that must not depend on http.
#pragma once

namespace tollgate {

int currentLoopIndex();
void setCurrentLoopIndex(int i);

}  // namespace tollgate
