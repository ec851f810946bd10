package gateway

import (
	"io"
	"net"
	"sync/atomic"
	"time"
)

// closeLinger is how long a closing WebSocket waits for the client to close
// its side after our close frame.
const closeLinger = time.Second

// sock is a player's TCP connection as the HTTP server and gws see it.
//
// gws closes the socket right after writing a close frame. Closing a socket
// whose input has not all been read makes the kernel send RST, which can
// destroy the close frame before the client reads it: a flooding client
// (1008) or a frame over the size limit (1009) would see "connection reset"
// instead of the code. So, once upgraded, Close only sends FIN and bounds
// the read side by closeLinger; the read loop ends when the client closes (or
// the linger ends), and OnClose calls release, which reads away what is left
// and really closes. A client that does not read at all is cut instead
// (RST: the kernel drops what it still buffers for it).
type sock struct {
	*net.TCPConn
	ws    atomic.Bool  // upgraded: Close is graceful
	state atomic.Int32 // sockOpen, sockClosing, sockClosed
}

const (
	sockOpen = iota
	sockClosing
	sockClosed
)

// Close implements net.Conn.
func (s *sock) Close() error {
	if !s.ws.Load() {
		s.state.Store(sockClosed)
		return s.TCPConn.Close()
	}
	if s.state.CompareAndSwap(sockOpen, sockClosing) {
		_ = s.TCPConn.CloseWrite()
		_ = s.TCPConn.SetReadDeadline(time.Now().Add(closeLinger))
	}
	return nil
}

// closing reports whether Close (or cut) was called.
func (s *sock) closing() bool { return s.state.Load() != sockOpen }

// release ends a connection whose read loop is over: what the client still
// sends within the linger is read and dropped, then the socket closes.
func (s *sock) release() {
	switch s.state.Swap(sockClosed) {
	case sockClosed:
		return
	case sockOpen:
		_ = s.TCPConn.CloseWrite()
		_ = s.TCPConn.SetReadDeadline(time.Now().Add(closeLinger))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(s.TCPConn, 1<<20))
	_ = s.TCPConn.Close()
}

// cut resets the connection at once.
func (s *sock) cut() {
	if s.state.Swap(sockClosed) != sockClosed {
		_ = s.TCPConn.SetLinger(0)
		_ = s.TCPConn.Close()
	}
}

// listener wraps accepted connections in socks.
type listener struct{ net.Listener }

func (l listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		return &sock{TCPConn: tc}, nil
	}
	return c, nil
}
