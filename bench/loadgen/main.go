// Command loadgen is the flood benchmark's load generator: an open-model HTTP/1.1 generator in
// the manner of wrk2, small enough that on one core it costs a fraction of what the server under
// test pays per request.
//
// It exists because vegeta (net/http client, a goroutine per worker) measured itself on this
// 2-core machine: pinned to one core against a Go server that answers in microseconds on the
// other, 1,000 workers at 6,000 requests/s gave p99 250 ms, most of it the first 0.4 s while
// the generator, at 100 % of its core, dialled its connections and the server's core sat idle.
//
// So every connection is dialled and made to answer one request before the clock starts, requests
// are pre-formatted bytes, responses are parsed in place from a bufio.Reader (no net/http), and
// each connection has one goroutine. Request i is due at start + i/rate; a dispatcher hands it to whichever connection is
// free, and when none is, it waits: that wait is recorded (sent - due) and counts in the latency
// from due that the caller computes (coordinated omission). -rate 0 is a closed loop; with
// -retry-refused its clients press again for the same request when answered 503 or 429, as a
// person does, each attempt a line of its own with the same seq.
//
// Output: one CSV line per request: seq,due_us,sent_us,done_us,status,code,error — microseconds
// since the start, status 0 when the connection failed, code the body's "code" or "status" field.
//
// Standard library only, so `go build` needs no module download.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type result struct {
	seq             int
	due, sent, done time.Duration
	status          int
	code, err       string
}

type conn struct {
	addr string
	c    net.Conn
	r    *bufio.Reader
	// deadline is the read/write deadline last set; it is renewed once a tenth of the timeout has
	// passed, not per request: setting it resets a runtime timer, which cost more than parsing.
	deadline time.Time
	body     []byte
}

func (k *conn) dial() error {
	c, err := net.Dial("tcp", k.addr)
	if err != nil {
		return err
	}
	k.c, k.r = c, bufio.NewReaderSize(c, 16<<10)
	k.deadline = time.Time{}
	return nil
}

func (k *conn) close() {
	if k.c != nil {
		k.c.Close()
		k.c = nil
	}
}

// do sends one request and reads its response; the body is kept only to find its code.
func (k *conn) do(req []byte, timeout time.Duration) (int, string, error) {
	if k.c == nil {
		if err := k.dial(); err != nil {
			return 0, "", err
		}
	}
	if now := time.Now(); k.deadline.Sub(now) < timeout-timeout/10 {
		k.deadline = now.Add(timeout)
		k.c.SetDeadline(k.deadline)
	}
	if _, err := k.c.Write(req); err != nil {
		k.close()
		return 0, "", err
	}
	status, closing, err := k.readResponse()
	if err != nil {
		k.close()
		return 0, "", err
	}
	code := codeOf(k.body)
	if closing {
		k.close()
	}
	return status, code, nil
}

var errMalformed = errors.New("malformed response")

// readResponse reads one HTTP/1.1 response into k.body, reusing its buffer: the status, and
// whether the server closes the connection after it. Bodies come with Content-Length or chunked.
// net/http's ReadResponse allocated a header map and a body reader per response, and with them
// the generator used most of its core against a bare route before the server did.
func (k *conn) readResponse() (status int, closing bool, err error) {
	line, err := k.r.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, false, errMalformed
	}
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return 0, false, errMalformed
		}
		status = status*10 + int(c-'0')
	}
	closing = line[7] == '0' // HTTP/1.0 closes unless told otherwise; good enough for a generator
	length, chunked := -1, false
	for {
		h, err := k.r.ReadSlice('\n')
		if err != nil {
			return 0, false, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		colon := bytes.IndexByte(h, ':')
		if colon < 0 {
			return 0, false, errMalformed
		}
		name, value := h[:colon], bytes.TrimSpace(h[colon+1:])
		switch {
		case bytes.EqualFold(name, []byte("content-length")):
			length = 0
			for _, c := range value {
				if c < '0' || c > '9' {
					return 0, false, errMalformed
				}
				length = length*10 + int(c-'0')
			}
		case bytes.EqualFold(name, []byte("transfer-encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("connection")):
			closing = bytes.EqualFold(value, []byte("close"))
		}
	}
	k.body = k.body[:0]
	switch {
	case status < 200 || status == 204 || status == 304:
		return status, closing, nil
	case chunked:
		for {
			sizeLine, err := k.r.ReadSlice('\n')
			if err != nil {
				return 0, false, err
			}
			size, ok := parseHex(bytes.TrimRight(sizeLine, "\r\n"))
			if !ok {
				return 0, false, errMalformed
			}
			if size == 0 {
				// Trailers, if any, end with an empty line.
				for {
					t, err := k.r.ReadSlice('\n')
					if err != nil {
						return 0, false, err
					}
					if len(bytes.TrimRight(t, "\r\n")) == 0 {
						return status, closing, nil
					}
				}
			}
			if err := k.readBody(size + 2); err != nil {
				return 0, false, err
			}
			k.body = k.body[:len(k.body)-2]
		}
	case length >= 0:
		return status, closing, k.readBody(length)
	default:
		// Neither: the body runs to the end of the connection.
		rest, err := io.ReadAll(k.r)
		k.body = append(k.body, rest...)
		return status, true, err
	}
}

// readBody appends the next n bytes of the response to k.body.
func (k *conn) readBody(n int) error {
	from := len(k.body)
	if cap(k.body)-from < n {
		grown := make([]byte, from, from+n+512)
		copy(grown, k.body)
		k.body = grown
	}
	k.body = k.body[:from+n]
	_, err := io.ReadFull(k.r, k.body[from:])
	return err
}

func parseHex(b []byte) (int, bool) {
	if i := bytes.IndexByte(b, ';'); i >= 0 {
		b = b[:i]
	}
	if len(b) == 0 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			n = n*16 + int(c-'0')
		case c >= 'a' && c <= 'f':
			n = n*16 + int(c-'a'+10)
		case c >= 'A' && c <= 'F':
			n = n*16 + int(c-'A'+10)
		default:
			return 0, false
		}
	}
	return n, true
}

// codeOf returns the value of the first "code" or "status" string field of a JSON body.
func codeOf(body []byte) string {
	for _, key := range [][]byte{[]byte(`"code":"`), []byte(`"status":"`)} {
		if i := bytes.Index(body, key); i >= 0 {
			rest := body[i+len(key):]
			if j := bytes.IndexByte(rest, '"'); j >= 0 {
				return string(rest[:j])
			}
		}
	}
	return ""
}

func main() {
	addr := flag.String("addr", "127.0.0.1:3000", "host:port of the server")
	targets := flag.String("targets", "", "file with one request path per line; request i uses line i (mod their number)")
	method := flag.String("method", "POST", "request method")
	rate := flag.Float64("rate", 0, "requests per second, open model; 0 = closed loop, as fast as the connections go")
	duration := flag.Duration("duration", 10*time.Second, "how long to send")
	requests := flag.Int("requests", 0, "closed loop only: send this many requests, then stop (0: send for -duration)")
	conns := flag.Int("conns", 100, "connections, dialled before the clock starts")
	primePath := flag.String("prime", "/health/live", "GET path each connection requests once before the clock starts")
	timeout := flag.Duration("timeout", 30*time.Second, "per-request timeout")
	out := flag.String("out", "", "CSV output file")
	retryRefused := flag.Bool("retry-refused", false, "closed loop only: send a request answered 503 or 429 again at once, on the same connection")
	flag.Parse()

	paths, err := readLines(*targets)
	if err != nil || len(paths) == 0 {
		fail("reading targets: %v (%d paths)", err, len(paths))
	}
	reqs := make([][]byte, len(paths))
	for i, p := range paths {
		reqs[i] = []byte(fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: 0\r\n\r\n", *method, p, *addr))
	}
	prime := []byte(fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", *primePath, *addr))

	pool := make([]*conn, *conns)
	for i := range pool {
		pool[i] = &conn{addr: *addr}
		if status, _, err := pool[i].do(prime, *timeout); err != nil || status == 0 {
			fail("priming connection %d: %v", i, err)
		}
	}

	total := len(paths)
	if *rate > 0 {
		total = int(*rate * duration.Seconds())
	} else if *requests > 0 {
		total = *requests
	}
	results := make([]result, 0, total)
	var mu sync.Mutex
	jobs := make(chan [2]int64, *conns) // open model: seq, due (ns since start)
	var issued atomic.Int64             // closed loop: the next seq
	var wg sync.WaitGroup
	start := time.Now()
	// next gives a connection its next request. In a closed loop each connection takes the next
	// number itself, due when it takes it: handing each request over a channel woke a goroutine
	// per request and cost the generator a third of its CPU against a fast server.
	next := func() (seq int, due time.Duration, ok bool) {
		if *rate > 0 {
			job, ok := <-jobs
			return int(job[0]), time.Duration(job[1]), ok
		}
		due = time.Since(start)
		seq = int(issued.Add(1) - 1)
		if (*requests > 0 && seq >= *requests) || (*requests == 0 && due >= *duration) {
			return 0, 0, false
		}
		return seq, due, true
	}
	for _, k := range pool {
		wg.Add(1)
		go func(k *conn) {
			defer wg.Done()
			local := make([]result, 0, total / *conns + 16)
			for {
				seq, due, ok := next()
				if !ok {
					break
				}
				for {
					sent := time.Since(start)
					status, code, err := k.do(reqs[seq%len(reqs)], *timeout)
					r := result{seq: seq, due: due, sent: sent, done: time.Since(start), status: status, code: code}
					if err != nil {
						r.err = err.Error()
						if errors.Is(err, os.ErrDeadlineExceeded) {
							r.err = "timeout"
						}
					}
					local = append(local, r)
					// A refused client presses again, until the loop's time is up.
					if !*retryRefused || *rate > 0 || (status != 503 && status != 429) || r.done >= *duration {
						break
					}
					due = r.done
				}
			}
			mu.Lock()
			results = append(results, local...)
			mu.Unlock()
			k.close()
		}(k)
	}

	// The channel's buffer is one slot per connection, so a job waits in it only while every
	// connection is busy; its due time travels with it, and the wait counts.
	if *rate > 0 {
		period := float64(time.Second) / *rate
		for i := 0; i < total; i++ {
			due := time.Duration(float64(i) * period)
			if wait := due - time.Since(start); wait > 0 {
				time.Sleep(wait)
			}
			jobs <- [2]int64{int64(i), int64(due)}
		}
		close(jobs)
	}
	wg.Wait()

	f, err := os.Create(*out)
	if err != nil {
		fail("%v", err)
	}
	w := bufio.NewWriter(f)
	for _, r := range results {
		fmt.Fprintf(w, "%d,%d,%d,%d,%d,%s,%s\n", r.seq, r.due.Microseconds(), r.sent.Microseconds(), r.done.Microseconds(), r.status, r.code, strings.ReplaceAll(r.err, ",", ";"))
	}
	if err := w.Flush(); err != nil {
		fail("%v", err)
	}
	f.Close()
}

func readLines(name string) ([]string, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines, nil
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "loadgen: "+format+"\n", args...)
	os.Exit(1)
}
