c=$1
while IFS= read -r h; do
	[ -f "$c/${h%"${h#??}"}/${h#??}" ] || echo "$h"
done
