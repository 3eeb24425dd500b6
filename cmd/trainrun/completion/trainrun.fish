# fish completion for trainrun. Load it with:
#   trainrun completion fish | source
# or save it as ~/.config/fish/completions/trainrun.fish.
# trainrun itself says what completes a word: its commands and flags, the
# configuration's instance addresses and the recorded run ids.
function __trainrun_complete
    set -l tokens (commandline -opc)
    set -l cur (commandline -ct | string unescape)
    set -l out ($tokens[1] __complete fish $tokens[2..-1] "$cur" 2>/dev/null)
    switch "$out[1]"
        case :files
            __fish_complete_path (commandline -ct)
        case :dirs
            __fish_complete_directories (commandline -ct)
        case '*'
            printf '%s\n' $out
    end
end
# -k: candidates come in trainrun's order (epochs=5 before epochs=10).
complete -c trainrun -f -k -a '(__trainrun_complete)'
