package iface

import (
	"errors"
	"reflect"
	"testing"

	"github.com/vishvananda/netlink"
)

func TestListAll(t *testing.T) {
	errOther := errors.New("boom")
	tests := []struct {
		name      string
		results   [][]int
		errs      []error
		want      []int
		wantErr   error
		wantCalls int
	}{
		{"clean", [][]int{{1}}, []error{nil}, []int{1}, nil, 1},
		{"interrupted once, then clean", [][]int{{1}, {2}}, []error{netlink.ErrDumpInterrupted, nil}, []int{2}, nil, 2},
		{"always interrupted: last data accepted", [][]int{{1}, {2}, {3}}, []error{netlink.ErrDumpInterrupted, netlink.ErrDumpInterrupted, netlink.ErrDumpInterrupted}, []int{3}, nil, 3},
		{"other error returned at once", [][]int{nil}, []error{errOther}, nil, errOther, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			got, err := listAll("test", func() ([]int, error) {
				i := calls
				calls++
				return tt.results[i], tt.errs[i]
			})
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("data = %v, want %v", got, tt.want)
			}
			if calls != tt.wantCalls {
				t.Errorf("list called %d times, want %d", calls, tt.wantCalls)
			}
		})
	}
}
