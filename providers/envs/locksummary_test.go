package envs

import (
	"slices"
	"testing"
)

func TestLockPackages(t *testing.T) {
	pip := "joblib==1.3.2\nnumpy==1.26.4\nscikit-learn==1.3.0\nscipy==1.11.4\nthreadpoolctl==3.2.0\nmy-pkg @ file:///tmp/my_pkg\n"
	conda := "# This file may be used to create an environment using:\n@EXPLICIT\n" +
		"https://conda.anaconda.org/conda-forge/linux-64/numpy-1.26.4-py311h64a7726_0.conda\n" +
		"https://conda.anaconda.org/conda-forge/linux-64/scikit-learn-1.3.0-py311hc009520_0.conda#abc\n" +
		"https://conda.anaconda.org/conda-forge/noarch/tzdata-2023c-h71feb2d_0.tar.bz2\n"
	tests := []struct {
		name  string
		lock  string
		reqs  []string
		count int
		named []string
	}{
		{"pip", pip, []string{"Scikit_Learn>=1.2", "numpy"}, 6, []string{"numpy==1.26.4", "scikit-learn==1.3.0"}},
		{"pip, a direct reference", pip, []string{"my_pkg @ file:///tmp/my_pkg"}, 6, []string{"my-pkg @ file:///tmp/my_pkg"}},
		{"pip, nothing named", pip, nil, 6, nil},
		{"conda", conda, []string{"scikit-learn=1.3", "python"}, 3,
			[]string{"https://conda.anaconda.org/conda-forge/linux-64/scikit-learn-1.3.0-py311hc009520_0.conda#abc"}},
		{"empty", "", []string{"numpy"}, 0, nil},
	}
	for _, tt := range tests {
		count, named := LockPackages(tt.lock, tt.reqs)
		if count != tt.count || !slices.Equal(named, tt.named) {
			t.Errorf("%s: LockPackages = %d, %q; want %d, %q", tt.name, count, named, tt.count, tt.named)
		}
	}
}
