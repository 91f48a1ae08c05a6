/**
 * Fetchmail plugin: the list's switches and buttons, the form's port and
 * folder behaviour, Test connection, Check now, Delete and "Sign in with".
 *
 * Every request goes to the plugin's own actions with Roundcube's request
 * token (rcmail.http_post sends it as X-Roundcube-Request); nothing is kept
 * in the browser's storage.
 *
 * @license GNU GPLv3+
 */

window.rcmail && rcmail.addEventListener('init', function() {
    var action = rcmail.env.action;

    if (!/^plugin\.fetchmail/.test(action)) {
        return;
    }

    rcmail.register_command('plugin.fetchmail-add', function() {
        rcmail.goto_url('plugin.fetchmail-edit', fetchmail_user_query());
    }, true);

    rcmail.register_command('plugin.fetchmail-list', function() {
        rcmail.redirect(rcmail.env.fetchmail_list_url);
    }, true);

    rcmail.addEventListener('plugin.fetchmail_run_result', fetchmail_run_result);
    rcmail.addEventListener('plugin.fetchmail_deleted', fetchmail_deleted);
    rcmail.addEventListener('plugin.fetchmail_active_result', fetchmail_active_result);
    rcmail.addEventListener('plugin.fetchmail_test_result', fetchmail_test_result);
    rcmail.addEventListener('plugin.fetchmail_field_errors', fetchmail_field_errors);
    rcmail.addEventListener('plugin.fetchmail_oauth2_redirect', function(data) {
        if (data && /^https?:\/\//i.test(data.url)) {
            location.href = data.url;
        }
    });

    if (rcmail.gui_objects.fetchmailform) {
        fetchmail_form_init();
    }
    else {
        fetchmail_list_init();
    }
});

/** _fmuser when acting for another user */
function fetchmail_user_query(extra)
{
    var query = $.extend({}, extra || {});

    if (rcmail.env.fetchmail_user) {
        query._fmuser = rcmail.env.fetchmail_user;
    }

    return query;
}

function fetchmail_post(action, data, label)
{
    var lock = rcmail.set_busy(true, label || 'loading');

    rcmail.http_post(action, fetchmail_user_query(data), lock);
}

function fetchmail_delete(id)
{
    rcmail.confirm_dialog(rcmail.get_label('fetchmail.deleteconfirm'), 'delete', function() {
        fetchmail_post('plugin.fetchmail-delete', {_id: id});
    });
}

// ------------------------------------------------------------------ list

function fetchmail_list_init()
{
    var table = $('#fetchmail-accounts');

    table.on('click', 'button.fetchmail-run', function() {
        fetchmail_post('plugin.fetchmail-run', {_id: $(this).data('id')}, 'fetchmail.running');
    });

    table.on('click', 'button.fetchmail-delete', function() {
        fetchmail_delete($(this).data('id'));
    });

    table.on('change', 'input.fetchmail-active', function() {
        fetchmail_post('plugin.fetchmail-active', {_id: $(this).data('id'), _active: this.checked ? 1 : 0});
    });
}

/** The status cells of a row (HTML escaped by the server) */
function fetchmail_update_status(container, status)
{
    $.each(status || {}, function(name, html) {
        container.find('td.' + name).html(html);
    });
}

function fetchmail_run_result(data)
{
    var row = $('#fetchmail-row-' + data.id);

    if (row.length) {
        fetchmail_update_status(row, data.status);
    }

    if (rcmail.gui_objects.fetchmailform) {
        fetchmail_update_status($('#fetchmail-status'), data.status);
        $('#fetchmail-log').text(data.log || '');
    }
}

function fetchmail_deleted(data)
{
    if (rcmail.gui_objects.fetchmailform) {
        rcmail.redirect(rcmail.env.fetchmail_list_url);
        return;
    }

    $('#fetchmail-row-' + data.id).remove();

    if (!$('#fetchmail-accounts tbody tr').length) {
        rcmail.redirect(rcmail.env.fetchmail_list_url);
    }
}

function fetchmail_active_result(data)
{
    $('#fetchmail-row-' + data.id + ' input.fetchmail-active').prop('checked', !!data.active);
}

// ------------------------------------------------------------------ form

function fetchmail_form_init()
{
    var form = $(rcmail.gui_objects.fetchmailform),
        id = rcmail.env.fetchmail_id;

    rcmail.register_command('plugin.fetchmail-save', function() {
        var lock = rcmail.set_busy(true, 'savingdata');
        form.submit();
    }, true);

    rcmail.register_command('plugin.fetchmail-test', function() {
        fetchmail_field_errors({});
        $('#fetchmail-test-result').empty();
        fetchmail_post('plugin.fetchmail-test', fetchmail_form_data(), 'fetchmail.testing');
    }, true);

    if (id) {
        rcmail.register_command('plugin.fetchmail-run', function() {
            fetchmail_post('plugin.fetchmail-run', {_id: id}, 'fetchmail.running');
        }, true);

        rcmail.register_command('plugin.fetchmail-delete', function() {
            fetchmail_delete(id);
        }, true);
    }

    $('#fetchmail-protocol, #fetchmail-tls').on('change', fetchmail_form_update);
    fetchmail_form_update();

    form.on('click', 'button.fetchmail-oauth2', function() {
        fetchmail_field_errors({});
        fetchmail_post('plugin.fetchmail-oauth2-start',
            $.extend(fetchmail_form_data(), {_provider: $(this).data('provider')}));
    });

    // a field the server found bad is marked until it is changed
    form.on('input change', '.is-invalid', function() {
        $(this).removeClass('is-invalid').removeAttr('aria-invalid');
        $('#' + this.id + '-error').text('').hide();
    });
}

/** The form's fields as an object, without Roundcube's own */
function fetchmail_form_data()
{
    var data = {};

    $.each($(rcmail.gui_objects.fetchmailform).serializeArray(), function(i, field) {
        if (!/^_(token|task|action|framed)$/.test(field.name)) {
            data[field.name] = field.value;
        }
    });

    return data;
}

/**
 * The port follows protocol and TLS; folders and push are for IMAP only.
 * For POP3 their rows are hidden and the push switch is disabled, so that
 * the form sends push "no" (its state comes back when IMAP is chosen
 * again). A row the server found bad stays in view with its reason.
 */
function fetchmail_form_update()
{
    var protocol = $('#fetchmail-protocol').val() == 'imap' ? 'imap' : 'pop3',
        ports = (rcmail.env.fetchmail_ports || {})[protocol] || [],
        port = $('#fetchmail-tls').val() == 'implicit' ? ports[0] : ports[1];

    $('#fetchmail-port').attr('placeholder', port || '');
    $('tr.fetchmail-imap-only').each(function() {
        var row = $(this),
            shown = protocol == 'imap' || row.find('.is-invalid').length > 0;

        row.toggle(shown);
        row.find('input[type=checkbox]').prop('disabled', !shown);
    });
}

/** Show the server's reason next to each bad field (field => reason) */
function fetchmail_field_errors(errors)
{
    $('.fetchmail-error').each(function() {
        var field = $(this).data('field'),
            input = $('#' + this.id.replace(/-error$/, '')),
            error = errors ? errors[field] : null;

        $(this).text(error || '').toggle(!!error);
        input.toggleClass('is-invalid', !!error);

        if (error) {
            input.attr({'aria-invalid': 'true', 'aria-describedby': this.id});
        }
        else {
            input.removeAttr('aria-invalid');
        }
    });

    // an IMAP-only field with a reason is shown even for POP3
    fetchmail_form_update();
}

/** Test connection: a row per step, the failed one marked */
function fetchmail_test_result(data)
{
    var box = $('#fetchmail-test-result').empty(),
        table = $('<table>').addClass('table table-sm fetchmail-steps'),
        failed = false;

    $.each(data.steps || [], function(i, step) {
        var label = rcmail.get_label('fetchmail.step_' + step.step),
            bad = /^failed\b/.test(step.result),
            row = $('<tr>').addClass(bad ? 'step-failed' : 'step-ok').attr('data-step', step.step);

        if (label.indexOf('fetchmail.') === 0) {
            label = step.step;
        }

        failed = failed || bad;
        row.append($('<td>').addClass('step').text(label), $('<td>').addClass('result').text(step.result));
        table.append(row);
    });

    box.append($('<p>').addClass(data.ok ? 'boxconfirmation' : 'boxerror').text(data.message || ''));

    if (table.children().length) {
        box.append(table);
    }

    rcmail.display_message(data.message || '', data.ok ? 'confirmation' : 'error');
}
