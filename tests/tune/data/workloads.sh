#!/bin/sh
# Ordinary admin and build work, run as root in $W (a fresh directory): what a fresh install of the
# upstream rules is noisy about. $PY is a Python with pip. Everything it changes outside $W is undone.
set -e
W=${W:?}
cd "$W"
# build a C program
cat > hello.c <<'C'
#include <stdio.h>
int main(void) { puts("hello"); return 0; }
C
printf 'hello: hello.c\n\tgcc -O1 -o hello hello.c\n' > Makefile
make -s > /dev/null && ./hello > /dev/null
# git init / commit
mkdir repo && cd repo && git init -q . && git config user.email t@example.com && git config user.name t
echo hi > README && git add README && git commit -qm init && git log --oneline > /dev/null && cd ..
# pip install from a local wheel
"$PY" - <<'P'
import zipfile
with zipfile.ZipFile("tunedemo-1.0-py3-none-any.whl", "w") as z:
    z.writestr("tunedemo/__init__.py", "X = 1\n")
    z.writestr("tunedemo-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: tunedemo\nVersion: 1.0\n")
    z.writestr("tunedemo-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: t\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    z.writestr("tunedemo-1.0.dist-info/RECORD", "")
P
"$PY" -m pip install -q --no-index --no-deps --disable-pip-version-check --target site tunedemo-1.0-py3-none-any.whl
# tar round trip, and a backup of the system configuration
tar czf src.tgz hello.c repo && mkdir out && tar xzf src.tgz -C out
tar czf etc-backup.tgz /etc/shadow /etc/gshadow /etc/passwd /etc/group 2> /dev/null
# a container-style start (new mount and pid namespaces)
unshare --mount --pid --fork --mount-proc true
# a service account created and removed
userdel lanner-tune-svc 2> /dev/null || true     # left over by an interrupted run
useradd -M -r -s /usr/sbin/nologin lanner-tune-svc && userdel lanner-tune-svc
# a service dropping privileges to its own user
runuser -u nobody -- true
# debugging a program
strace -f -o /dev/null ./hello > /dev/null
# log rotation
mkdir -p /var/log/lanner-tune && echo x > /var/log/lanner-tune/app.log && truncate -s 0 /var/log/lanner-tune/app.log
rm -rf /var/log/lanner-tune
# a shared group directory
mkdir shared && chmod g+s shared
# a shell alias added to root's profile (and removed again)
had=no; [ -e /root/.bashrc ] && had=yes
cp /root/.bashrc .bashrc.saved 2> /dev/null || : > .bashrc.saved
echo "alias ll='ls -l'" >> /root/.bashrc
cp .bashrc.saved /root/.bashrc
[ "$had" = yes ] || rm -f /root/.bashrc
