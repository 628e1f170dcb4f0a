// The one translation unit that compiles Asio and Beast (BOOST_*_SEPARATE_COMPILATION is set for
// the whole project). Everything else includes only their declarations, which keeps a clean build
// on 2 cores short. Never include these src headers anywhere else.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
