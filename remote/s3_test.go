package remote

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"

	"github.com/trainrun/trainrun/snapshot"
)

// The S3 remote against a real S3-protocol server (gofakes3) listening on
// a loopback port: push, fetch, a corrupted object refused.
func TestS3(t *testing.T) {
	backend := s3mem.New()
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	defer srv.Close()
	if err := backend.CreateBucket("team"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "trainrun-test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t-never-shown")
	t.Setenv("AWS_REGION", "us-east-1")
	r, err := NewS3("team", "/projects/vision/", srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	if s := r.String(); strings.Contains(s, "s3cr3t") || !strings.HasSuffix(s, "/team/projects/vision/") {
		t.Fatalf("String() = %q", s)
	}
	pushFetch(t, r, func(key string, data []byte) {
		// Over the protocol, behind the store's back.
		if _, err := r.c.PutObject(context.Background(), "team", "projects/vision/"+key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	})
	// Every object is below the prefix.
	list, err := backend.ListBucket("team", &gofakes3.Prefix{}, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range list.Contents {
		if !strings.HasPrefix(o.Key, "projects/vision/") || !snapshot.ValidKey(strings.TrimPrefix(o.Key, "projects/vision/")) {
			t.Errorf("object %q", o.Key)
		}
	}
	if len(list.Contents) == 0 {
		t.Fatal("nothing in the bucket")
	}
}
