#include "tests/client_tcp_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

namespace lrmem::testing {
namespace {

sockaddr_in Localhost(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

int ConnectTo(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = Localhost(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) !=
      0) {
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

TcpProxy::TcpProxy(int target_port) : target_port_(target_port) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in address = Localhost(0);
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&address),
           sizeof(address)) != 0 ||
      listen(listen_fd_, 16) != 0) {
    std::abort();
  }
  socklen_t length = sizeof(address);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length);
  port_ = ntohs(address.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

TcpProxy::~TcpProxy() {
  stop_ = true;
  shutdown(listen_fd_, SHUT_RDWR);
  close(listen_fd_);
  acceptor_.join();
  absl::MutexLock lock(&mu_);
  for (std::thread& forwarder : forwarders_) forwarder.join();
}

void TcpProxy::CutAll() {
  hold_replies_ = false;
  ++generation_;
}

void TcpProxy::AcceptLoop() {
  while (!stop_) {
    const int client_fd = accept(listen_fd_, nullptr, nullptr);
    if (client_fd < 0) continue;
    const int server_fd = ConnectTo(target_port_);
    if (server_fd < 0) {
      close(client_fd);
      continue;
    }
    absl::MutexLock lock(&mu_);
    forwarders_.emplace_back([this, client_fd, server_fd] {
      Forward(client_fd, server_fd, generation_.load());
    });
  }
}

void TcpProxy::Forward(int client_fd, int server_fd, int generation) {
  char buffer[1 << 16];
  while (!stop_ && generation_.load() == generation) {
    pollfd fds[2] = {{client_fd, POLLIN, 0}, {server_fd, POLLIN, 0}};
    if (poll(fds, 2, 10) <= 0) continue;
    if (fds[0].revents != 0) {
      const ssize_t n = read(client_fd, buffer, sizeof(buffer));
      if (n <= 0 || write(server_fd, buffer, n) != n) break;
    }
    if (fds[1].revents != 0) {
      const ssize_t n = read(server_fd, buffer, sizeof(buffer));
      if (n <= 0) break;
      if (!hold_replies_ && write(client_fd, buffer, n) != n) break;
    }
  }
  shutdown(client_fd, SHUT_RDWR);
  shutdown(server_fd, SHUT_RDWR);
  close(client_fd);
  close(server_fd);
}

}  // namespace lrmem::testing
