# Runs at install time (install(SCRIPT) in dist/install.cmake): writes the installed configs and
# the unit for this CMAKE_INSTALL_PREFIX into HUB_STAGE_DIR and installs them from there.

# A directory under the prefix, as GNUInstallDirs places it (prefix /usr: etc is /etc).
function(hub_install_dir var dir)
    if(IS_ABSOLUTE "${dir}")
        set(${var} "${dir}" PARENT_SCOPE)
    elseif(CMAKE_INSTALL_PREFIX STREQUAL "/usr" AND dir STREQUAL "etc")
        set(${var} "/etc" PARENT_SCOPE)
    else()
        set(${var} "${CMAKE_INSTALL_PREFIX}/${dir}" PARENT_SCOPE)
    endif()
endfunction()

hub_install_dir(bindir "${HUB_BINDIR}")
hub_install_dir(etcdir "${HUB_SYSCONFDIR}")
hub_install_dir(unitdir "${HUB_SYSTEMD_UNITDIR}")
file(REMOVE_RECURSE "${HUB_STAGE_DIR}")

# conf/NODE.yaml runs from the tree; the installed copy gets a header for systemd and FHS paths.
foreach(node primary secondary)
    file(READ "${HUB_SOURCE_DIR}/conf/${node}.yaml" body)
    string(FIND "${body}" "\n\n" at)
    if(at EQUAL -1)
        message(FATAL_ERROR "conf/${node}.yaml: expected a comment block, then an empty line")
    endif()
    math(EXPR at "${at} + 1")
    string(SUBSTRING "${body}" ${at} -1 body)
    string(REPLACE "./data/secondary.join-token" "/etc/hub/secondary.join-token" body "${body}")
    string(REPLACE "./data/secondary.client-secret" "/etc/hub/secondary.client-secret" body "${body}")
    string(REPLACE "./data/" "/var/lib/hub/" body "${body}")
    string(REPLACE "./tls/" "/etc/hub/tls/" body "${body}")
    string(REGEX REPLACE "(/(var/lib|etc)/hub/[^ \n]*) +#" "\\1  #" body "${body}") # the longer path pushed the comment
    if(body MATCHES "\\./")
        message(FATAL_ERROR "conf/${node}.yaml: a relative path that dist/stage.cmake does not map to /etc/hub or /var/lib/hub")
    endif()
    file(READ "${HUB_SOURCE_DIR}/dist/etc/${node}.head" head)
    file(WRITE "${HUB_STAGE_DIR}/etc/${node}.yaml" "${head}${body}")
endforeach()
file(INSTALL DESTINATION "${etcdir}/hub" TYPE FILE FILES "${HUB_STAGE_DIR}/etc/primary.yaml" "${HUB_STAGE_DIR}/etc/secondary.yaml")

file(READ "${HUB_SOURCE_DIR}/dist/hubd@.service.in" unit)
string(REPLACE "@HUBD@" "${bindir}/hubd" unit "${unit}")
file(WRITE "${HUB_STAGE_DIR}/hubd@.service" "${unit}")
file(INSTALL DESTINATION "${unitdir}" TYPE FILE FILES "${HUB_STAGE_DIR}/hubd@.service")
