# Removes the directory environment DIR/ID (after lock.sh): the symlink,
# what it points to and what a killed build left. The lock file stays: a
# process may be waiting on it.
rm -rf "$dir/$id" "$dir/.d/$id".*
