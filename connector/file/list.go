package file

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// DefaultPartitionValue is the directory value written for a null
// partition value (col=__HIVE_DEFAULT_PARTITION__), read back as null.
const DefaultPartitionValue = "__HIVE_DEFAULT_PARTITION__"

// tempDirName is the directory below a write target that holds uncommitted
// output; [ListFiles] never enters it.
const tempDirName = "_temporary"

// hidden reports whether a file or directory name is metadata or temporary
// data that readers skip: names starting with "." and names starting with
// "_" that are not partition directories (col=value).
func hidden(name string) bool {
	if strings.HasPrefix(name, ".") {
		return true
	}
	return strings.HasPrefix(name, "_") && (!strings.Contains(name, "=") || name == tempDirName)
}

// ListFiles returns the data files at path: path itself if it is a file, or
// every regular file below it if it is a directory, walked recursively,
// skipping hidden names (those starting with "." or "_", such as _SUCCESS
// and _temporary, except partition directories col=value). The result is
// sorted. A directory written by a [StreamSink] (one with a _spate_metadata
// log) lists only the files of committed batches, per [CommittedFiles]. A missing path gives an error wrapping [fs.ErrNotExist] that
// names the path.
func ListFiles(path string) ([]string, error) {
	infos, err := ListFileInfos(path)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(infos))
	for i, fi := range infos {
		out[i] = fi.Path
	}
	return out, nil
}

// FileInfo describes one data file found by [ListFileInfos].
type FileInfo struct {
	Path    string
	Size    int64
	ModTime time.Time
}

// ListFileInfos is [ListFiles] with each file's size and modification time,
// for callers that order or filter files by age (a streaming file source).
func ListFileInfos(path string) ([]FileInfo, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("file: list %s: %w", path, err)
	}
	if !st.IsDir() {
		return []FileInfo{{Path: path, Size: st.Size(), ModTime: st.ModTime()}}, nil
	}
	if infos, ok, err := committedFileInfos(path); ok {
		return infos, err // the output of a streaming file sink: committed files only
	}
	var out []FileInfo
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == path {
			return nil
		}
		if hidden(d.Name()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		fi, err := os.Stat(p) // follows symlinks
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while listing, or a dangling link
			}
			return err
		}
		if fi.Mode().IsRegular() {
			out = append(out, FileInfo{Path: p, Size: fi.Size(), ModTime: fi.ModTime()})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("file: list %s: %w", path, err)
	}
	slices.SortFunc(out, func(a, b FileInfo) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

// PartitionValues returns the hive-style partition values encoded in the
// directories of path: for .../year=2024/month=05/part-0.parquet it returns
// {"year": "2024", "month": "05"}. Names and values are unescaped (%XX). A
// value of [DefaultPartitionValue] is returned as the empty string with
// null[col] set; callers that do not care about nulls can ignore the second
// result. A path without partition directories gives an empty map.
func PartitionValues(path string) (values map[string]string, null map[string]bool) {
	values = map[string]string{}
	null = map[string]bool{}
	dir := filepath.Dir(filepath.ToSlash(path))
	for _, seg := range strings.Split(filepath.ToSlash(dir), "/") {
		k, v, ok := strings.Cut(seg, "=")
		if !ok || k == "" {
			continue
		}
		k = unescapePathName(k)
		if v == DefaultPartitionValue {
			values[k], null[k] = "", true
			continue
		}
		values[k] = unescapePathName(v)
		delete(null, k)
	}
	return values, null
}

// partitionColumnNames returns the partition column names of path in
// directory order (outermost first).
func partitionColumnNames(path string) []string {
	var names []string
	for _, seg := range strings.Split(filepath.ToSlash(filepath.Dir(path)), "/") {
		if k, _, ok := strings.Cut(seg, "="); ok && k != "" {
			k = unescapePathName(k)
			if !slices.Contains(names, k) {
				names = append(names, k)
			}
		}
	}
	return names
}

// needsEscape lists the bytes that partition directory names escape as %XX,
// as Hive does.
func needsEscape(c byte) bool {
	if c < 0x20 || c == 0x7f {
		return true
	}
	return strings.IndexByte("\"#%'*/:=?\\{[]^", c) >= 0
}

// escapePathName escapes s for use as a partition directory name or value.
func escapePathName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if needsEscape(c) {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// unescapePathName reverses [escapePathName]; malformed escapes are kept
// as they are.
func unescapePathName(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if h, ok := unhex(s[i+1]); ok {
				if l, ok := unhex(s[i+2]); ok {
					b.WriteByte(h<<4 | l)
					i += 2
					continue
				}
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
