package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/trainrun/trainrun/snapshot"
)

// S3 is a remote in a bucket of any S3-compatible store (AWS S3, MinIO,
// Ceph, Garage, …), below a prefix. Credentials come from the standard
// variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN),
// never from the configuration, and are never printed. An object is
// written whole or not at all by S3 itself; large blobs go up in parts.
type S3 struct {
	c        *minio.Client
	bucket   string
	prefix   string // "" or ending in "/"
	endpoint string // for messages
}

// s3Workers bounds the requests in flight at once.
const s3Workers = 8

// NewS3 returns the remote in bucket below prefix at endpoint: a host
// (HTTPS), or a URL whose scheme says http or https; "" is AWS S3. An
// empty region is AWS_REGION's, or asked of the store. Nothing is
// contacted yet.
func NewS3(bucket, prefix, endpoint, region string) (*S3, error) {
	if bucket == "" {
		return nil, errors.New("remote s3: bucket must be set")
	}
	secure := true
	host := endpoint
	if host == "" {
		host = "s3.amazonaws.com"
	}
	if strings.Contains(host, "://") {
		u, err := url.Parse(host)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || (u.Path != "" && u.Path != "/") || u.User != nil {
			return nil, fmt.Errorf("remote s3: endpoint %q is not a host or an http(s)://HOST[:PORT] URL", endpoint)
		}
		host, secure = u.Host, u.Scheme == "https"
	}
	if region == "" {
		region = firstNonEmpty(os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION"))
	}
	c, err := minio.New(host, &minio.Options{Creds: credentials.NewEnvAWS(), Secure: secure, Region: region})
	if err != nil {
		return nil, fmt.Errorf("remote s3: %w", err)
	}
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	return &S3{c: c, bucket: bucket, prefix: prefix, endpoint: host}, nil
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func (s *S3) String() string { return "s3 " + s.endpoint + "/" + s.bucket + "/" + s.prefix }

// notFound reports whether err says the object (or bucket) is not there.
func notFound(err error) bool {
	switch minio.ToErrorResponse(err).Code {
	case "NoSuchKey", "NotFound", "NoSuchBucket":
		return true
	}
	return false
}

// each runs f on every index below n, s3Workers at a time, and returns
// the first error.
func each(ctx context.Context, n int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  int
	)
	for range min(s3Workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				stop := first != nil
				mu.Unlock()
				if i >= n || stop {
					return
				}
				if err := f(ctx, i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
						cancel()
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// Missing implements snapshot.Remote.
func (s *S3) Missing(ctx context.Context, keys []string) ([]string, error) {
	if err := checkKeys(s, keys); err != nil {
		return nil, err
	}
	lacks := make([]bool, len(keys))
	err := each(ctx, len(keys), func(ctx context.Context, i int) error {
		_, err := s.c.StatObject(ctx, s.bucket, s.prefix+keys[i], minio.StatObjectOptions{})
		if notFound(err) {
			lacks[i] = true
			return nil
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("remote %s: %w", s, err)
	}
	var missing []string
	for i, k := range keys {
		if lacks[i] {
			missing = append(missing, k)
		}
	}
	return missing, nil
}

// Put implements snapshot.Remote.
func (s *S3) Put(ctx context.Context, objects []snapshot.Object) error {
	for _, o := range objects {
		if err := checkKeys(s, []string{o.Key}); err != nil {
			return err
		}
	}
	err := each(ctx, len(objects), func(ctx context.Context, i int) error {
		o := objects[i]
		f, err := os.OpenFile(o.Path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", o.Path)
		}
		_, err = s.c.PutObject(ctx, s.bucket, s.prefix+o.Key, f, fi.Size(), minio.PutObjectOptions{ContentType: "application/octet-stream"})
		if err != nil {
			return fmt.Errorf("put %s: %w", o.Key, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("remote %s: %w", s, err)
	}
	return nil
}

// Get implements snapshot.Remote: several objects at once, recv called
// from as many goroutines.
func (s *S3) Get(ctx context.Context, keys []string, recv func(key string, r io.Reader) error) error {
	if err := checkKeys(s, keys); err != nil {
		return err
	}
	var recvErr error
	var mu sync.Mutex
	err := each(ctx, len(keys), func(ctx context.Context, i int) error {
		obj, err := s.c.GetObject(ctx, s.bucket, s.prefix+keys[i], minio.GetObjectOptions{})
		if err != nil {
			return err
		}
		defer obj.Close()
		// The first read says whether the object is there.
		if _, err := obj.Stat(); err != nil {
			if notFound(err) {
				return fmt.Errorf("%s: %w", keys[i], fs.ErrNotExist)
			}
			return err
		}
		if err := recv(keys[i], obj); err != nil {
			mu.Lock()
			if recvErr == nil {
				recvErr = err
			}
			mu.Unlock()
			return err
		}
		return nil
	})
	if recvErr != nil {
		return recvErr
	}
	if err != nil {
		return fmt.Errorf("remote %s: %w", s, err)
	}
	return nil
}
