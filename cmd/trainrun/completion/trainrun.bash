# bash completion for trainrun. Load it with:
#   source <(trainrun completion bash)
# or save it as ~/.local/share/bash-completion/completions/trainrun.
# trainrun itself says what completes a word: its commands and flags, the
# configuration's instance addresses and the recorded run ids.
_trainrun() {
    local cur=${COMP_WORDS[COMP_CWORD]} IFS=$'\n' out
    out=($("${COMP_WORDS[0]}" __complete bash "${COMP_LINE:0:COMP_POINT}" "$cur" 2>/dev/null))
    COMPREPLY=()
    case ${out[0]-} in
    :files)
        compopt -o filenames 2>/dev/null
        COMPREPLY=($(compgen -f -- "$cur"))
        return
        ;;
    :dirs)
        compopt -o filenames 2>/dev/null
        COMPREPLY=($(compgen -d -- "$cur"))
        return
        ;;
    esac
    COMPREPLY=("${out[@]}")
    # A word that asks for more (-chdir=) gets no space after it.
    if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *= ]]; then
        compopt -o nospace 2>/dev/null
    fi
}
# Candidates come in trainrun's order (epochs=5 before epochs=10).
complete -o nosort -F _trainrun trainrun 2>/dev/null || complete -F _trainrun trainrun
