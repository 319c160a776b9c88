// Package loopback serves fixed files over HTTP on 127.0.0.1 for the
// fetchers' tests (this workplace has no internet), and counts the requests.
package loopback

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Server serves the bytes of files by URL path ("/mirror/name.gz"); any
// other path is a 404. It closes when the test ends.
type Server struct {
	*httptest.Server
	mu    sync.Mutex
	files map[string][]byte
	hits  map[string]int
}

// New starts a server for files, keyed by URL path.
func New(t testing.TB, files map[string][]byte) *Server {
	s := &Server{files: files, hits: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.Path]++
		data, ok := s.files[r.URL.Path]
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(data)
	}))
	t.Cleanup(s.Close)
	return s
}

// Hits returns the number of requests for path.
func (s *Server) Hits(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

// HitsUnder returns the number of requests for paths that start with prefix.
func (s *Server) HitsUnder(prefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for p, c := range s.hits {
		if strings.HasPrefix(p, prefix) {
			n += c
		}
	}
	return n
}
