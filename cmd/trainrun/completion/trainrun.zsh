#compdef trainrun
# zsh completion for trainrun. Load it with:
#   source <(trainrun completion zsh)
# (after compinit), or save it as _trainrun in a directory of $fpath.
# trainrun itself says what completes a word: its commands and flags, the
# configuration's instance addresses and the recorded run ids.
_trainrun() {
    local -a out
    # Inside quotes PREFIX is the text as it is meant; outside, unquote it.
    local cur=$PREFIX
    [[ -n ${compstate[quote]-} ]] || cur=${(Q)PREFIX}
    out=("${(@f)$("${words[1]}" __complete zsh "${(@Q)words[2,CURRENT-1]}" "$cur" 2>/dev/null)}")
    case ${out[1]-} in
    :files) _files ;;
    :dirs) _files -/ ;;
    *)
        out=(${out:#})
        (( ${#out} )) || return 1
        if [[ ${#out} -eq 1 && ${out[1]} == *= ]]; then
            compadd -S '' -- "${out[@]}"
        else
            compadd -- "${out[@]}"
        fi
        ;;
    esac
}
if (( $+functions[compdef] )); then
    compdef _trainrun trainrun
fi
