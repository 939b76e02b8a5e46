// A TCP proxy for tests that need a connection to break at a chosen moment:
// it forwards localhost connections to a target port, can hold back
// everything the server sends, and can cut every open connection.

#ifndef LRMEM_TESTS_CLIENT_TCP_PROXY_H_
#define LRMEM_TESTS_CLIENT_TCP_PROXY_H_

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace lrmem::testing {

class TcpProxy {
 public:
  // Listens on 127.0.0.1 on a free port and forwards to `target_port`.
  explicit TcpProxy(int target_port);
  ~TcpProxy();

  int port() const { return port_; }

  // From now on, bytes from the server are dropped instead of forwarded.
  void HoldReplies() { hold_replies_ = true; }

  // Closes every open connection; later connections are forwarded as
  // usual (replies no longer held).
  void CutAll();

 private:
  void AcceptLoop();
  void Forward(int client_fd, int server_fd, int generation);

  int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> hold_replies_{false};
  std::atomic<int> generation_{0};
  std::thread acceptor_;
  absl::Mutex mu_;
  std::vector<std::thread> forwarders_ ABSL_GUARDED_BY(mu_);
};

}  // namespace lrmem::testing

#endif  // LRMEM_TESTS_CLIENT_TCP_PROXY_H_
