# The issue-15 scenarios, one after the other; run as: sh scenario.sh DIR PORT TARGET_PID
# (DIR: a directory whose path is unique to the run, PORT: a loopback listener, TARGET_PID: a process to
# ptrace-attach to). Every alerting process has DIR in its command line or its parent's.
D=$1
cat /etc/shadow "$D"/scenario.sh > /dev/null
cp /bin/true /dev/shm/"$(basename "$D")"-true
/dev/shm/"$(basename "$D")"-true
rm -f /dev/shm/"$(basename "$D")"-true
touch "$D"/.hidden
rm "$D"/.hidden
python3 "$D"/helper.py connect "$2"
python3 "$D"/helper.py ptrace "$3"
cp /bin/dash "$D"/nginx
"$D"/nginx -c 'sh -c true; true'
echo scenario done
