package loopback

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

func TestValidatePort(t *testing.T) {
	for _, port := range []int{0, 1024, 4244, 65535} {
		if err := ValidatePort(port); err != nil {
			t.Errorf("ValidatePort(%d) = %v", port, err)
		}
	}
	for _, port := range []int{-1, 80, 1023, ReservedPort, 65536} {
		if err := ValidatePort(port); err == nil {
			t.Errorf("ValidatePort(%d) accepted it", port)
		}
	}
}

func TestListenRefusesAPortInUse(t *testing.T) {
	ln, err := Listen(0)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if host, _, _ := net.SplitHostPort(ln.Addr().String()); host != Host {
		t.Errorf("listening on %s, want %s only", ln.Addr(), Host)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if _, err := Listen(port); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second Listen on %d: %v, want address in use", port, err)
	}
	if _, err := Listen(ReservedPort); err == nil {
		t.Error("Listen(9001) succeeded")
	}
}

func TestLimitAnswers503WhenFull(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	h := Limit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	}), 1, 0, 0)
	ln, _ := Listen(0)
	srv := Serve(ln, h, Options{}, slog.New(slog.DiscardHandler))
	defer srv.Close(context.Background())
	url := "http://" + srv.Addr().String() + "/"
	first := make(chan error, 1)
	go func() {
		res, err := http.Get(url)
		if err == nil {
			res.Body.Close()
		}
		first <- err
	}()
	<-entered
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("second request while the only slot is taken: %d, want 503", res.StatusCode)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
}

func TestLimitCapsBodies(t *testing.T) {
	var read int
	h := Limit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		read = len(b)
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		}
	}), 4, 0, 10)
	ln, _ := Listen(0)
	srv := Serve(ln, h, Options{}, slog.New(slog.DiscardHandler))
	defer srv.Close(context.Background())
	url := "http://" + net.JoinHostPort(Host, strconv.Itoa(srv.Port())) + "/"
	for _, tc := range []struct {
		body    io.Reader
		status  int
		comment string
	}{
		{strings.NewReader("0123456789"), 200, "at the cap"},
		{strings.NewReader("0123456789a"), 413, "announced larger"},
		{io.MultiReader(strings.NewReader("0123456789"), strings.NewReader("abc")), 413, "chunked, larger"},
	} {
		res, err := http.Post(url, "text/plain", tc.body)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d (read %d)", tc.comment, res.StatusCode, tc.status, read)
		}
	}
}
