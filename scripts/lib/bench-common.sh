# Shared by scripts/bench.sh and scripts/bench-sync.sh (sourced, after $work is set).

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

shims() { # backend -> dir of iptables* symlinks to that backend's multi-call binary
  local dir=$work/bin-$1
  mkdir -p "$dir"
  for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
    ln -sf "/usr/sbin/xtables-$1-multi" "$dir/$t"
  done
  echo "$dir"
}
